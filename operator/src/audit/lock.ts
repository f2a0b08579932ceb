// Exclusive writer lock on an audit log: `<log>.lock`, held as an SQLite EXCLUSIVE lock (node:sqlite).
//
// Why SQLite: Node has no flock/fcntl, and a pid file cannot tell a dead holder from a live one in
// another PID namespace (every container restart is a new one). SQLite takes a POSIX advisory lock
// (fcntl) on the file; the kernel drops it when the holder exits however it dies, so there is never a
// stale lock to detect or break, and it works across processes and containers sharing the volume (and
// on NFS, which supports fcntl locks). SQLite also tracks locks per connection inside one process, so a
// second sink in the same process is refused too. The lock file stays empty: nothing is written to it.
// `<log>.lock.owner` (pid, host, time) is informational only, for the error message.

import { rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { DatabaseSync } from 'node:sqlite';
import { readIfExists } from './fsutil.ts';

const SQLITE_BUSY = 5;

export interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

export class LockedError extends Error {
  override name = 'LockedError';
  readonly owner?: LockOwner;
  constructor(message: string, owner?: LockOwner) {
    super(message);
    this.owner = owner;
  }
}

export function lockPath(logPath: string): string {
  return `${logPath}.lock`;
}

export function ownerPath(logPath: string): string {
  return `${logPath}.lock.owner`;
}

export interface LogLock {
  readonly path: string;
  /** Releases the lock (idempotent). */
  release(): Promise<void>;
}

/**
 * Takes the writer lock of `logPath` (its directory must exist) or throws LockedError naming the path
 * and, if recorded, the holder. Never waits.
 */
export async function acquireLogLock(logPath: string, now = new Date()): Promise<LogLock> {
  const path = lockPath(logPath);
  const db = new DatabaseSync(path);
  try {
    db.exec('PRAGMA locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if ((err as { errcode?: number }).errcode !== SQLITE_BUSY) {
      throw new Error(`cannot lock ${path}: ${(err as Error).message}`, { cause: err });
    }
    const owner = await readOwner(logPath);
    const by = owner ? ` (by pid ${owner.pid} on ${owner.host} since ${owner.since})` : '';
    throw new LockedError(
      `audit log ${logPath} is locked${by}: another process or sink has it open (lock ${path}). ` +
        'Only one writer, the elected leader, may open it; stop the other one or wait until it closes the log.',
      owner,
    );
  }
  const owner: LockOwner = { pid: process.pid, host: hostname(), since: now.toISOString() };
  try {
    await writeFile(ownerPath(logPath), `${JSON.stringify(owner)}\n`, { mode: 0o644 }); // informational: no fsync
  } catch (err) {
    db.close();
    throw err;
  }
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      try {
        await rm(ownerPath(logPath), { force: true });
      } finally {
        db.close(); // rolls back the open transaction: the kernel lock goes with the descriptor
      }
    },
  };
}

async function readOwner(logPath: string): Promise<LockOwner | undefined> {
  try {
    const raw = await readIfExists(ownerPath(logPath));
    const owner = raw ? (JSON.parse(raw.toString('utf8')) as Partial<LockOwner>) : undefined;
    if (typeof owner?.pid !== 'number' || typeof owner.host !== 'string') return undefined;
    return { pid: owner.pid, host: owner.host, since: String(owner.since) };
  } catch {
    return undefined; // informational only: a torn or odd owner file must not hide the lock error
  }
}
