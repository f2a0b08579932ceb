// Shared helpers for the audit tests (not a test file itself).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEventInput } from './events.ts';
import { generateKey, type Keyring, loadKeyring } from './keys.ts';
import { FILE_HEADER_LEN } from './record.ts';
import { type FileAuditSinkOptions, openAuditSink } from './sink.ts';

export interface Fixture {
  dir: string;
  keysDir: string;
  logPath: string;
  checkpointDir: string;
  keyring: Keyring;
  cleanup: () => Promise<void>;
}

/** A temp dir with a key directory holding one active key "k1". */
export async function fixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'closedpaw-audit-'));
  const keysDir = join(dir, 'keys');
  await generateKey(keysDir, { kid: 'k1' });
  return {
    dir,
    keysDir,
    logPath: join(dir, 'log', 'audit.log'),
    checkpointDir: join(dir, 'published'),
    keyring: await loadKeyring(keysDir),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export function sampleEvent(i: number, time?: string): AuditEventInput {
  return {
    type: 'approval.decided',
    ...(time ? { time } : {}),
    task: { namespace: 'team-a', name: `task-${i}` },
    approvalId: `apr-${i}`,
    decidedBy: { kind: 'user', name: 'alice@example.com' },
    decision: i % 2 === 0 ? 'approved' : 'denied',
  };
}

/** Writes `n` events through a real sink and closes it (which writes a final checkpoint). */
export async function writeEvents(
  f: Fixture,
  n: number,
  opts: Partial<FileAuditSinkOptions> & { from?: number } = {},
): Promise<void> {
  const sink = await openAuditSink({
    logPath: f.logPath,
    keyring: f.keyring,
    checkpointDir: f.checkpointDir,
    ...opts,
  });
  for (let i = 0; i < n; i++) sink.append(sampleEvent((opts.from ?? 0) + i));
  await sink.close();
}

export interface FrameLoc {
  offset: number;
  len: number;
}

/** Frame boundaries of a log, read from the length prefixes (no checking). */
export function frames(log: Buffer): FrameLoc[] {
  const out: FrameLoc[] = [];
  for (let off = FILE_HEADER_LEN; off + 4 <= log.length; ) {
    const len = log.readUInt32LE(off);
    out.push({ offset: off, len });
    off += len;
  }
  return out;
}

export async function logFrames(logPath: string): Promise<{ log: Buffer; frames: FrameLoc[] }> {
  const log = await readFile(logPath);
  return { log, frames: frames(log) };
}

/** XORs one byte in place. */
export function flip(buf: Buffer, i: number, mask = 0xff): Buffer {
  buf[i] = (buf[i] ?? 0) ^ mask;
  return buf;
}

export function at<T>(items: readonly T[], i: number): T {
  const item = items[i];
  if (item === undefined) throw new Error(`no item ${i}`);
  return item;
}
