/**
 * Confinement of the file tools to the workspace, without relying on the
 * sandbox. Three layers, each fail-closed:
 *  1. lexical: the argument, resolved against the workspace (absolute paths as
 *     they are, never URL-decoded), must lie under it;
 *  2. real path: symbolic links are resolved and the result must lie under the
 *     workspace's real path plus "/";
 *  3. the opened descriptor: opened with O_NOFOLLOW, then `/proc/self/fd/N` is
 *     read back and must lie under the workspace too — so a link swapped in
 *     after step 2 (a race) is caught on what was actually opened. Later work
 *     (listing, creating, renaming) goes through `/proc/self/fd/N/...`, i.e.
 *     relative to the verified descriptor, never through the path again.
 */
import {
  closeSync,
  constants,
  lstatSync,
  mkdirSync,
  openSync,
  readlinkSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { LIMITS } from '../limits.ts';
import { quoted, ToolError } from './tool-error.ts';

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = constants;

export interface WorkspaceOptions {
  /** Test seam: called after the real-path check and before the open, where a race would strike. */
  afterCheck?: (realPath: string) => void;
}

/** A path the model named, resolved lexically: where it is under the real workspace and how to call it. */
export interface NamedPath {
  /** Absolute, under the workspace's real path (symbolic links not yet resolved). */
  path: string;
  /** Relative to the workspace, for messages ('.' for the workspace itself). */
  display: string;
}

/** An open, verified descriptor. `at(name)` names an entry inside it without going through the path again. */
export interface OpenedEntry {
  fd: number;
  display: string;
  at: (name: string) => string;
}

export class Workspace {
  /** The workspace's real path. */
  readonly root: string;
  /** The workspace as configured (may differ from `root` when it is reached through a link). */
  readonly configured: string;
  private readonly options: WorkspaceOptions;

  private constructor(configured: string, root: string, options: WorkspaceOptions) {
    this.configured = configured;
    this.root = root;
    this.options = options;
  }

  static open(dir: string, options: WorkspaceOptions = {}): Workspace {
    const configured = resolve(dir);
    let root: string;
    try {
      root = realpathSync(configured);
    } catch (error) {
      throw new Error(`the workspace ${configured} does not exist: ${(error as Error).message}`);
    }
    if (!statSync(root).isDirectory()) throw new Error(`the workspace ${configured} is not a directory`);
    if (root === sep) throw new Error('the workspace must not be the file system root');
    return new Workspace(configured, root, options);
  }

  /** Layer 1: the argument as a path under the workspace, or an error that says why not. */
  name(input: string): NamedPath {
    if (input.includes('\0')) throw new ToolError('invalid_path', 'the path contains a NUL byte');
    if (input.length > LIMITS.pathMaxChars) {
      throw new ToolError('invalid_path', `the path is longer than ${LIMITS.pathMaxChars} characters`);
    }
    const absolute = resolve(this.configured, input);
    const base = [this.configured, this.root].find((b) => absolute === b || absolute.startsWith(b + sep));
    if (base === undefined) {
      const how = isAbsolute(input) ? 'is an absolute path outside' : 'leads outside';
      throw new ToolError(
        'outside_workspace',
        `the path ${quoted(input)} ${how} the workspace ${this.configured}`,
      );
    }
    const rel = relative(base, absolute);
    return { path: rel === '' ? this.root : join(this.root, rel), display: rel === '' ? '.' : rel };
  }

  isInside(realPath: string, allowRoot: boolean): boolean {
    return realPath.startsWith(this.root + sep) || (allowRoot && realPath === this.root);
  }

  /** Opens an existing entry (file or directory) for reading, through all three layers. */
  openExisting(input: string, kind: 'file' | 'directory'): OpenedEntry {
    const named = this.name(input);
    const real = this.realPathOf(named);
    this.options.afterCheck?.(real);
    const flags = O_RDONLY | O_NOFOLLOW | (kind === 'directory' ? O_DIRECTORY : O_NONBLOCK);
    return this.openVerified(real, flags, named.display, kind === 'directory');
  }

  /**
   * For a write: opens the directory that will hold `input`, creating missing
   * directories from the nearest existing parent, each one inside the last
   * verified descriptor. The caller closes `dir.fd`.
   */
  openParentForWrite(input: string): { dir: OpenedEntry; name: string; display: string } {
    const named = this.name(input);
    if (named.path === this.root) throw new ToolError('not_a_file', 'the path names the workspace itself');
    const name = basename(named.path);
    const missing: string[] = [];
    let existing = dirname(named.path);
    let real: string | undefined;
    while (real === undefined) {
      try {
        real = realpathSync(existing);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOTDIR') {
          throw new ToolError(
            'not_a_directory',
            `a parent of ${quoted(named.display)} is a file, not a directory`,
          );
        }
        if (code !== 'ENOENT' || existing === this.root) throw ioError(named.display, error);
        missing.unshift(basename(existing));
        existing = dirname(existing);
      }
    }
    if (!this.isInside(real, true)) throw outside(named.display);
    this.options.afterCheck?.(real);
    let dir = this.openVerified(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, named.display, true);
    try {
      for (const part of missing) {
        try {
          mkdirSync(dir.at(part), 0o755);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(named.display, error);
        }
        const next = this.openVerified(
          dir.at(part),
          O_RDONLY | O_DIRECTORY | O_NOFOLLOW,
          named.display,
          true,
        );
        closeSync(dir.fd);
        dir = next;
      }
    } catch (error) {
      closeSync(dir.fd);
      throw error;
    }
    return { dir, name, display: named.display };
  }

  /** Layer 2: the real path, which must lie under the workspace. */
  private realPathOf(named: NamedPath): string {
    let real: string;
    try {
      real = realpathSync(named.path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new ToolError('not_found', `${quoted(named.display)} does not exist`);
      if (code === 'ENOTDIR') {
        throw new ToolError('not_a_directory', `a parent of ${quoted(named.display)} is not a directory`);
      }
      throw ioError(named.display, error);
    }
    if (!this.isInside(real, true)) throw outside(named.display);
    return real;
  }

  /** Layer 3: open without following a final link, then check what the descriptor really is. */
  private openVerified(path: string, flags: number, display: string, allowRoot: boolean): OpenedEntry {
    let fd: number;
    try {
      fd = openSync(path, flags);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // O_NOFOLLOW on a link gives ELOOP (Linux), ENOTDIR with O_DIRECTORY, or ENOENT on a dangling
      // link (gVisor, which also follows a link to a directory despite O_NOFOLLOW: the check below catches that).
      if (code === 'ELOOP' || isLink(path)) {
        throw new ToolError(
          'outside_workspace',
          `${quoted(display)} is (or just became) a symbolic link where a real file or directory was expected; refused`,
        );
      }
      if (code === 'ENOENT') throw new ToolError('not_found', `${quoted(display)} does not exist`);
      if (code === 'ENOTDIR') throw new ToolError('not_a_directory', `${quoted(display)} is not a directory`);
      throw ioError(display, error);
    }
    const link = `/proc/self/fd/${fd}`;
    let opened: string;
    try {
      opened = readlinkSync(link);
    } catch (error) {
      closeSync(fd);
      throw new ToolError(
        'unverifiable',
        `cannot verify where ${quoted(display)} was opened (${(error as Error).message}); refused`,
      );
    }
    if (!this.isInside(opened, allowRoot)) {
      closeSync(fd);
      throw new ToolError(
        'outside_workspace',
        `${quoted(display)} was redirected outside the workspace while it was being opened; refused`,
      );
    }
    return { fd, display, at: (name) => `${link}/${name}` };
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

function outside(display: string): ToolError {
  return new ToolError(
    'outside_workspace',
    `${quoted(display)} resolves (through a symbolic link) to a place outside the workspace; refused`,
  );
}

function ioError(display: string, error: unknown): ToolError {
  const code = (error as NodeJS.ErrnoException).code ?? 'error';
  return new ToolError('io_error', `${quoted(display)}: ${code}`);
}
