/**
 * What every cluster verb of the CLI shares: the io object (and its questions), the command line
 * (runVerb), usage errors (exit 2) versus failures (exit 1), the user's kubeconfig, and API errors turned
 * into one line that says what to fix.
 */
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { errorMessage, statusCode, statusReason } from '../k8s/errors.ts';
import { closest } from './suggest.ts';

export { closest };

export interface CliIo {
  stdout(s: string): void;
  stderr(s: string): void;
  /** Whether a human can answer a question (default: process.stdin is a TTY). */
  interactive?: boolean;
  /** Asks a yes/no question (default: a line read from the terminal; "y" or "yes" is yes). */
  confirm?(question: string): Promise<boolean>;
  /** Whether stderr is a terminal that can redraw a status line (default: process.stderr.isTTY). */
  terminal?: boolean;
  /** Process environment (default: process.env). */
  env?: Record<string, string | undefined>;
}

/** Whether a human can answer a question (io.interactive, else whether stdin is a TTY). */
export const isInteractive = (io: CliIo): boolean => io.interactive ?? process.stdin.isTTY === true;

/** Asks a yes/no question (io.confirm, else a line read from the terminal: "y" or "yes" is yes). */
export async function confirm(io: CliIo, question: string): Promise<boolean> {
  if (io.confirm) return await io.confirm(question);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** Wrong input: exit 2, with the verb's usage. */
export class UsageError extends Error {}
/** A refusal or failure with a message already meant for the user: exit 1. */
export class Failure extends Error {}

/** util.parseArgs failures (an ApiException's numeric `code` is not one). */
export const isParseArgsError = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
};

/**
 * The user's kubeconfig ($KUBECONFIG, else ~/.kube/config). client-node silently falls back to
 * http://localhost:8080 when there is none; a user wants to hear that there is no cluster configured.
 */
export function loadKubeConfig(env: Record<string, string | undefined> = process.env): KubeConfig {
  const files = (env.KUBECONFIG ?? '').split(':').filter(Boolean);
  const home = env.HOME ?? '';
  const candidates = files.length > 0 ? files : home ? [`${home}/.kube/config`] : [];
  const inCluster = Boolean(env.KUBERNETES_SERVICE_HOST);
  if (!inCluster && !candidates.some((f) => existsSync(f))) {
    throw new Failure(
      files.length > 0
        ? `no kubeconfig at ${files.join(':')} (KUBECONFIG): point KUBECONFIG at your cluster's kubeconfig`
        : 'no cluster configured: set KUBECONFIG or create ~/.kube/config (kind, k3s and kubectl write one)',
    );
  }
  const kc = new KubeConfig();
  kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Failure(
      `the kubeconfig has no current context with a cluster: kubectl config use-context <name>`,
    );
  }
  return kc;
}

export function contextNamespace(kc: KubeConfig): string {
  return kc.getContextObject(kc.getCurrentContext())?.namespace || 'default';
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The system error code of a failed connection (node-fetch wraps it; undici puts it in `cause`). */
export function networkErrorCode(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || /^E[A-Z]+$/.test(code))) return code;
    const message = (current as { message?: unknown }).message;
    if (typeof message === 'string') {
      const match = /\b(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH)\b/.exec(message);
      if (match) return match[1];
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The API server's words, kubectl style: `Error from server (Forbidden): …`. */
export function describeApiError(error: unknown): string {
  const code = statusCode(error);
  if (code === undefined || code === 0) return error instanceof Error ? error.message : String(error);
  const reason = statusReason(error);
  return `Error from server${reason ? ` (${reason})` : ` (HTTP ${code})`}: ${errorMessage(error)}`;
}

/**
 * One line for an API error, kubectl style, with what to do about it: no cluster, bad credentials,
 * missing RBAC, missing CRDs. `doing` names the request, e.g. "create agenttasks in namespace team-a".
 */
export function explainApiError(error: unknown, kc?: KubeConfig, doing?: string): string {
  const server = kc?.getCurrentCluster()?.server ?? 'the API server';
  const context = kc?.getCurrentContext();
  const code = statusCode(error);
  if (code === undefined || code === 0) {
    const net =
      networkErrorCode(error) ??
      (error instanceof Error && error.message === 'fetch failed'
        ? ((error.cause as Error | undefined)?.message ?? 'fetch failed')
        : undefined);
    if (net) {
      return `cannot reach the API server at ${server} (${net}): is the cluster running, and is the kubeconfig context${context ? ` "${context}"` : ''} the right one?`;
    }
    return describeApiError(error);
  }
  const said = describeApiError(error);
  if (code === 401)
    return `${said}: your kubeconfig's credentials for ${server} are not accepted; renew them`;
  if (code === 403) {
    return `${said}${doing ? `: ask your cluster admin for RBAC to ${doing}` : ': ask your cluster admin for the RBAC this needs'}`;
  }
  if (code === 404 && /could not find the requested resource/i.test(errorMessage(error))) {
    return `${said}: the ClosedPaw CRDs are not installed on this cluster; run closedpaw up (or kubectl apply -f crds/)`;
  }
  return said;
}

/** `90`, `90s`, `15m`, `2h`, `1h30m` → seconds; undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!match || text === '') return undefined;
  const [, h, m, s] = match;
  return Number(h ?? 0) * 3600 + Number(m ?? 0) * 60 + Number(s ?? 0);
}

/**
 * The seconds of a duration option (`text` is its value, or its default), else a UsageError that shows
 * `example`; `min` is the shortest allowed.
 */
export function durationOption(option: string, text: string, example: string, min = 0): number {
  const seconds = parseDuration(text);
  if (seconds === undefined || seconds < min)
    throw new UsageError(`${option}: "${text}" is not a duration; use e.g. ${example}`);
  return seconds;
}

/** parseArgs' words, cut to their first sentence, with the closest known option suggested. */
export function parseArgsMessage(error: Error, options: readonly string[] = []): string {
  const first = error.message.split('. ')[0] ?? error.message;
  const unknown = /Unknown option '(-{1,2})([^']+)'/.exec(first);
  if (!unknown) return first;
  const hint = closest(unknown[2]!, options);
  return `unknown option ${unknown[1]}${unknown[2]}${hint ? ` (did you mean --${hint}?)` : ''}`;
}

/** A verb's command line: its name, its usage (printed by --help) and its parseArgs options. */
export interface VerbSpec<O extends ParseArgsOptionsConfig> {
  name: string;
  usage: string;
  options: O;
}

type ParsedArgs<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true }>
>;

export interface VerbCall<O extends ParseArgsOptionsConfig> {
  values: ParsedArgs<O>['values'];
  positionals: ParsedArgs<O>['positionals'];
  /** io.env, else process.env. */
  env: Record<string, string | undefined>;
  /**
   * deps.kubeConfig, else the user's (loadKubeConfig), loaded when called; an API error that ends the
   * verb is explained against the cluster it names.
   */
  kubeConfig(): KubeConfig;
}

/**
 * Runs a cluster verb: parses argv (--help prints the usage, exit 0), then the body. Usage errors exit 2,
 * failures and API errors exit 1; each is one line on stderr that says what to fix (the usage is one
 * `--help` away).
 */
export async function runVerb<const O extends ParseArgsOptionsConfig>(
  spec: VerbSpec<O>,
  argv: string[],
  io: CliIo,
  deps: { kubeConfig?: KubeConfig },
  body: (call: VerbCall<O>) => Promise<number>,
): Promise<number> {
  const { name, usage, options } = spec;
  let kc: KubeConfig | undefined;
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true });
    if ((values as { help?: boolean }).help) {
      io.stdout(`${usage}\n`);
      return 0;
    }
    const env = io.env ?? process.env;
    const kubeConfig = () => {
      kc = deps.kubeConfig ?? loadKubeConfig(env);
      return kc;
    };
    return await body({ values, positionals, env, kubeConfig });
  } catch (error) {
    if (error instanceof UsageError || isParseArgsError(error)) {
      const message =
        error instanceof UsageError ? error.message : parseArgsMessage(error as Error, Object.keys(options));
      io.stderr(`closedpaw ${name}: ${message} (usage: closedpaw ${name} --help)\n`);
      return 2;
    }
    if (error instanceof Failure) {
      io.stderr(`closedpaw ${name}: ${error.message}\n`);
      return 1;
    }
    io.stderr(`closedpaw ${name}: ${explainApiError(error, kc)}\n`);
    return 1;
  }
}
