/**
 * fs.read, fs.list and fs.write over a confined Workspace. Reads are bounded
 * and text-only; writes go to a temporary file beside the target and are
 * renamed into place, all relative to a verified directory descriptor.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { LIMITS } from '../limits.ts';
import type { Workspace } from './confine.ts';
import { quoted, ToolError } from './tool-error.ts';

export interface FsLimits {
  readMaxBytes: number;
  writeMaxBytes: number;
  writeTotalMaxBytes: number;
  listMaxEntries: number;
}

export const DEFAULT_FS_LIMITS: FsLimits = {
  readMaxBytes: LIMITS.readMaxBytes,
  writeMaxBytes: LIMITS.writeMaxBytes,
  writeTotalMaxBytes: LIMITS.writeTotalMaxBytes,
  listMaxEntries: LIMITS.listMaxEntries,
};

const TEMP_PREFIX = '.closedpaw-write-';

export class FileTools {
  private readonly workspace: Workspace;
  private readonly limits: FsLimits;
  private written = 0;

  constructor(workspace: Workspace, limits: FsLimits = DEFAULT_FS_LIMITS) {
    this.workspace = workspace;
    this.limits = limits;
  }

  /** Bytes written so far (counts against writeTotalMaxBytes). */
  get bytesWritten(): number {
    return this.written;
  }

  read(path: string): string {
    const file = this.workspace.openExisting(path, 'file');
    try {
      const stat = fstatSync(file.fd);
      if (stat.isDirectory()) {
        throw new ToolError(
          'not_a_file',
          `${quoted(file.display)} is a directory; use list_files to see inside`,
        );
      }
      if (!stat.isFile()) throw new ToolError('not_a_file', `${quoted(file.display)} is not a regular file`);
      const max = this.limits.readMaxBytes;
      if (stat.size > max) throw tooLargeToRead(file.display, stat.size, max);
      const buffer = Buffer.alloc(max + 1);
      let length = 0;
      for (let n = 1; n > 0 && length < buffer.length; length += n) {
        n = readSync(file.fd, buffer, length, buffer.length - length, null);
      }
      if (length > max) throw tooLargeToRead(file.display, length, max);
      return decodeText(buffer.subarray(0, length), file.display);
    } finally {
      closeSync(file.fd);
    }
  }

  list(path: string): string {
    const dir = this.workspace.openExisting(path, 'directory');
    try {
      const entries = readdirSync(dir.at(''), { withFileTypes: true })
        .filter((e) => !e.name.startsWith(TEMP_PREFIX))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const shown = entries.slice(0, this.limits.listMaxEntries).map((e) => {
        if (e.isDirectory()) return `${e.name}/`;
        if (e.isSymbolicLink()) return `${e.name} (symbolic link)`;
        if (!e.isFile()) return `${e.name} (special file)`;
        return `${e.name} (${lstatSync(dir.at(e.name)).size} bytes)`;
      });
      const header = `${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} in ${dir.display}`;
      const more =
        entries.length > shown.length ? [`… and ${entries.length - shown.length} more not shown`] : [];
      return [header, ...shown, ...more].join('\n');
    } finally {
      closeSync(dir.fd);
    }
  }

  write(path: string, content: string): string {
    const bytes = Buffer.from(content, 'utf8');
    if (bytes.length > this.limits.writeMaxBytes) {
      throw new ToolError(
        'too_large',
        `the content is ${bytes.length} bytes; write_file writes at most ${this.limits.writeMaxBytes} bytes per call`,
      );
    }
    if (this.written + bytes.length > this.limits.writeTotalMaxBytes) {
      throw new ToolError(
        'write_budget_exhausted',
        `this write would bring the run's total to ${this.written + bytes.length} bytes; the limit is ${this.limits.writeTotalMaxBytes}`,
      );
    }
    const { dir, name, display } = this.workspace.openParentForWrite(path);
    const temp = `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`;
    try {
      writeNew(dir.at(temp), bytes);
      try {
        renameSync(dir.at(temp), dir.at(name));
      } catch (error) {
        unlinkQuietly(dir.at(temp));
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') {
          throw new ToolError('not_a_file', `${quoted(display)} is a directory`);
        }
        throw new ToolError('io_error', `${quoted(display)}: ${code ?? 'error'}`);
      }
    } finally {
      closeSync(dir.fd);
    }
    this.written += bytes.length;
    return `wrote ${bytes.length} bytes to ${display}`;
  }
}

function writeNew(path: string, bytes: Buffer): void {
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;
  const fd = openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
  try {
    for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset);
  } catch (error) {
    closeSync(fd);
    unlinkQuietly(path);
    throw new ToolError('io_error', `writing failed: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  closeSync(fd);
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function tooLargeToRead(display: string, size: number, max: number): ToolError {
  return new ToolError(
    'too_large',
    `${quoted(display)} is ${size} bytes; read_file reads files of at most ${max} bytes`,
  );
}

/** Text only: a NUL byte or invalid UTF-8 means binary, which is refused. */
export function decodeText(bytes: Uint8Array, display: string): string {
  const binary = () =>
    new ToolError('binary_file', `${quoted(display)} is a binary file; read_file only returns UTF-8 text`);
  if (bytes.includes(0)) throw binary();
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw binary();
  }
}
