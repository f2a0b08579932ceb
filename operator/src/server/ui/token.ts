/**
 * The UI's session token, and how it changes without a restart: a fixed token
 * (CLOSEDPAW_UI_TOKEN), or a token file (CLOSEDPAW_UI_TOKEN_FILE) that is stat()ed
 * on every authentication and re-read when it changed, so writing a new token
 * into the file ends the old one at once. A generated token lives in memory, or
 * in `<stateDir>/ui-token` (mode 0600) when a state directory is given, which
 * then rotates the same way.
 */
import { randomBytes } from 'node:crypto';
import {
  mkdirSync,
  readFileSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Tokens shorter than this are refused: the token is the only credential. */
export const MIN_TOKEN_CHARS = 32;

/** A fresh session token: 256 random bits, URL-safe. */
export const generateUiToken = (): string => randomBytes(32).toString('base64url');

export interface TokenSource {
  /** The token accepted now; undefined when there is none usable (then nothing authenticates). */
  current(): string | undefined;
  /** Changes whenever the token changes (so open sessions can be ended). */
  version(): number;
  /** Where the token comes from, for messages (never the token itself). */
  readonly origin: string;
  /** What to do when `current()` is undefined. */
  problem(): string | undefined;
}

function checkToken(token: string, what: string): string {
  if (token.length < MIN_TOKEN_CHARS)
    throw new Error(`${what}: the UI token must be at least ${MIN_TOKEN_CHARS} characters`);
  if (/\s/.test(token)) throw new Error(`${what}: the UI token must not contain whitespace`);
  return token;
}

export function fixedToken(token: string): TokenSource {
  checkToken(token, 'CLOSEDPAW_UI_TOKEN');
  return { current: () => token, version: () => 0, origin: 'CLOSEDPAW_UI_TOKEN', problem: () => undefined };
}

const signature = (s: Stats) => `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;

/**
 * A token read from `path` (trailing newline ignored). Throws when the file does not hold a valid token at
 * start; later, an unreadable or invalid file means no token at all (fail closed) until it is fixed.
 * `onChange` hears every later change of the file: undefined when the new token is usable, else why not.
 */
export function tokenFile(path: string, onChange?: (problem: string | undefined) => void): TokenSource {
  let seen = '';
  let token: string | undefined;
  let problem: string | undefined;
  let version = 0;

  const refresh = () => {
    let sig: string;
    try {
      sig = signature(statSync(path));
    } catch (error) {
      sig = `missing:${(error as NodeJS.ErrnoException).code ?? 'error'}`;
    }
    if (sig === seen) return;
    seen = sig;
    version++;
    try {
      token = checkToken(readFileSync(path, 'utf8').replace(/\r?\n$/, ''), path);
      problem = undefined;
    } catch (error) {
      token = undefined;
      problem =
        `the UI token file ${path} is unusable (${(error as Error).message.replace(`${path}: `, '')}): ` +
        `write a token of at least ${MIN_TOKEN_CHARS} characters into it`;
    }
    if (version > 1) onChange?.(problem);
  };

  refresh();
  if (token === undefined) throw new Error(problem);
  return {
    current: () => {
      refresh();
      return token;
    },
    version: () => {
      refresh();
      return version;
    },
    origin: path,
    problem: () => problem,
  };
}

/**
 * Writes `token` to `path` atomically (a 0600 temporary file in the same directory, then rename), so a
 * reader sees the old token or the new one, never half of one.
 */
export function writeTokenFile(path: string, token: string = generateUiToken()): string {
  checkToken(token, path);
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  writeFileSync(temporary, `${token}\n`, { mode: 0o600, flag: 'wx' });
  try {
    renameSync(temporary, path);
  } catch (error) {
    unlinkSync(temporary);
    throw error;
  }
  return token;
}

/** `closedpaw ui token rotate --file F`: a new token in F; the old one stops working at the next request. */
export const rotateTokenFile = (path: string): string => writeTokenFile(path);

export interface TokenSettings {
  /** CLOSEDPAW_UI_TOKEN */
  token?: string;
  /** CLOSEDPAW_UI_TOKEN_FILE */
  tokenFile?: string;
  /** Where a generated token is kept (`<stateDir>/ui-token`); without it a generated token lives in memory. */
  stateDir?: string;
}

/** The token source the settings ask for; a generated token when none is configured. */
export function resolveTokenSource(
  settings: TokenSettings,
  onChange?: (problem: string | undefined) => void,
): TokenSource {
  if (settings.token !== undefined && settings.tokenFile !== undefined) {
    throw new Error('set either CLOSEDPAW_UI_TOKEN or CLOSEDPAW_UI_TOKEN_FILE, not both');
  }
  if (settings.token !== undefined) return fixedToken(settings.token);
  if (settings.tokenFile !== undefined) return tokenFile(settings.tokenFile, onChange);
  if (settings.stateDir !== undefined) {
    mkdirSync(settings.stateDir, { recursive: true, mode: 0o700 });
    const path = join(settings.stateDir, 'ui-token');
    writeTokenFile(path);
    return tokenFile(path, onChange);
  }
  const token = generateUiToken();
  return { current: () => token, version: () => 0, origin: 'generated at start', problem: () => undefined };
}
