/**
 * A task's audit trail: its events from the sealed audit log, with the log's
 * verification status. Read-only, with the operator's keyring, through the audit
 * module's public API (`verifyLog` with the secret keyring: full verification,
 * every frame's events handed over as they are checked).
 *
 * Cost on a large log: one verifying pass over the whole log builds an in-memory
 * index (task uid → its last `perTask` events) for every task at once; requests
 * are answered from the index. Events are not decoded during the pass: the task
 * uid is found in the event's bytes, and only events of wanted tasks are parsed
 * (decoding every event costs 3–7× the verification itself). A new pass runs only
 * when the log file changed (size or mtime), one at a time, and no sooner than
 * max(`minIntervalMs`, 10 × the last pass's duration) after the last one began, so
 * passes take at most ~10% of the time however large the log grows; between
 * passes an answer says it is not current. Only uids of tasks that still exist are
 * indexed (`wantedUids`), and at most `maxTasks` of them. The operator's own
 * writes never wait for this (readers take no lock).
 */
import { stat } from 'node:fs/promises';
import { type AuditRecord, type Keyring, type VerifyOptions, verifyLog } from '../../audit/index.ts';
import { describeAuditEvent } from './audit-summary.ts';

/** An event as verifyLog hands it over: `body` is a view into the decrypted frame. */
type ScannedRecord = Parameters<NonNullable<VerifyOptions['onRecord']>>[0];

export interface AuditTrailEvent {
  seq: number;
  time: string;
  type: string;
  summary: string;
}

export interface AuditVerification {
  /** The whole log verified (chain, MACs, contents, checkpoints). */
  ok: boolean;
  /** Last sequence number verified good (0: none). */
  checkedTo: number;
  message: string;
  /** When the pass that produced this began. */
  checkedAt: string;
  /** False when the log changed since that pass: newer events appear after the next one. */
  current: boolean;
}

export interface AuditTrailView {
  /** False when the operator records no audit log (CLOSEDPAW_AUDIT=off) or the trail is not wired. */
  available: boolean;
  /** The task's last events, oldest first (only events from frames that verified). */
  events: AuditTrailEvent[];
  /** How many events of this task the verified part of the log holds. */
  total: number;
  verification?: AuditVerification;
  /** Older events of this task were dropped from the index (more than `maxTasks` tasks): `total` undercounts. */
  incomplete?: boolean;
  message?: string;
}

export interface TaskRefWithUid {
  namespace: string;
  name: string;
  uid: string;
}

/** The audit trail of one task (the server checked the approver may read its namespace). */
export type AuditTrailSource = (task: TaskRefWithUid) => Promise<AuditTrailView>;

export interface AuditTrailOptions {
  logPath: string;
  /** The second checkpoint location (the operator's checkpointDir). */
  checkpointDir?: string;
  /** The secret keyring, loaded for each pass (so a rotated key is picked up). */
  keyring: () => Promise<Keyring>;
  /** Events kept per task (the last ones): 50. */
  perTask?: number;
  /** Tasks indexed at most (least recently active dropped first): 500. */
  maxTasks?: number;
  /** Fewest milliseconds between two passes: 2000. */
  minIntervalMs?: number;
  /** Uids worth indexing (tasks that exist); all when absent. Read once per pass. */
  wantedUids?: () => ReadonlySet<string>;
  now?: () => number;
}

interface Entry {
  /** Kept as read; described only when shown (a pass may see far more events than are kept). */
  records: AuditRecord[];
  total: number;
  /** `records` described (describedEvents). */
  events?: AuditTrailEvent[];
}

/** An entry's events, described once: an entry does not change after its pass, and pages poll it. */
function describedEvents(entry: Entry): AuditTrailEvent[] {
  if (!entry.events) entry.events = entry.records.map(toTrailEvent);
  return entry.events;
}

const toTrailEvent = (r: AuditRecord): AuditTrailEvent => ({
  seq: r.seq,
  time: r.time,
  type: typeof r.event.type === 'string' ? r.event.type : 'unknown',
  summary: describeAuditEvent(r.event),
});

interface Snapshot {
  size: number;
  mtimeMs: number;
  startedAt: number;
  /** How long the pass took (ms): the next one waits at least 10 times this. */
  tookMs: number;
  index: Map<string, Entry>;
  /** Uids whose entry was dropped during the pass (the index was full). */
  evicted: Set<string>;
  wanted: ReadonlySet<string> | undefined;
  ok: boolean;
  checkedTo: number;
  message: string;
}

/** Passes repeated when the log grew while being read (a frame being appended shows as a cut tail). */
const MAX_ATTEMPTS = 3;

type FileState = { size: number; mtimeMs: number };

async function fileState(path: string): Promise<FileState | undefined> {
  try {
    const s = await stat(path);
    return { size: s.size, mtimeMs: s.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export class AuditTrailIndex {
  private readonly opts: AuditTrailOptions;
  private readonly perTask: number;
  private readonly maxTasks: number;
  private readonly now: () => number;
  private snapshot: Snapshot | undefined;
  private pass: Promise<Snapshot> | undefined;
  /** Passes run so far (tests and metrics). */
  passes = 0;

  constructor(opts: AuditTrailOptions) {
    this.opts = opts;
    this.perTask = opts.perTask ?? 50;
    this.maxTasks = opts.maxTasks ?? 500;
    this.now = opts.now ?? (() => Date.now());
  }

  /** The AuditTrailSource the UI server takes. */
  readonly source: AuditTrailSource = (task) => this.trail(task);

  async trail(task: TaskRefWithUid): Promise<AuditTrailView> {
    const file = await fileState(this.opts.logPath);
    if (!file) {
      return {
        available: true,
        events: [],
        total: 0,
        verification: {
          ok: false,
          checkedTo: 0,
          message: `there is no audit log at ${this.opts.logPath} yet (the operator opens it once it leads)`,
          checkedAt: new Date(this.now()).toISOString(),
          current: true,
        },
      };
    }
    let snap: Snapshot;
    try {
      snap = await this.fresh(file, task.uid);
    } catch (error) {
      // Keys not there yet (generated when the operator first opens the log), unreadable files…
      return {
        available: true,
        events: [],
        total: 0,
        verification: {
          ok: false,
          checkedTo: 0,
          message: `cannot verify the audit log: ${error instanceof Error ? error.message : String(error)}`,
          checkedAt: new Date(this.now()).toISOString(),
          current: true,
        },
      };
    }
    const entry = snap.index.get(task.uid);
    // Not current either when the pass did not index this task (it did not exist yet when the pass began).
    const current =
      snap.size === file.size && snap.mtimeMs === file.mtimeMs && (!snap.wanted || snap.wanted.has(task.uid));
    const incomplete = snap.evicted.has(task.uid);
    return {
      available: true,
      events: entry ? describedEvents(entry) : [],
      total: entry?.total ?? 0,
      ...(incomplete
        ? {
            incomplete: true,
            message: `older events of this task were dropped from the index (more than ${this.maxTasks} tasks in the log); \`closedpaw audit export\` shows them all`,
          }
        : {}),
      verification: {
        ok: snap.ok,
        checkedTo: snap.checkedTo,
        message: snap.message,
        checkedAt: new Date(snap.startedAt).toISOString(),
        current,
      },
    };
  }

  /** The snapshot to answer from: the last one if the log is unchanged, else a new pass when allowed. */
  private async fresh(file: FileState, uid: string): Promise<Snapshot> {
    const snap = this.snapshot;
    const unchanged = snap && snap.size === file.size && snap.mtimeMs === file.mtimeMs;
    const covers = snap && (!snap.wanted || snap.wanted.has(uid));
    if (snap && unchanged && covers) return snap;
    if (this.pass) return await this.pass;
    if (snap && this.now() - snap.startedAt < this.spacing(snap)) return snap;
    this.pass = this.run().finally(() => {
      this.pass = undefined;
    });
    return await this.pass;
  }

  /** How long after a pass began the next may begin. */
  private spacing(snap: Snapshot): number {
    return Math.max(this.opts.minIntervalMs ?? 2000, 10 * snap.tookMs);
  }

  private async run(): Promise<Snapshot> {
    let snap: Snapshot | undefined;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      snap = await this.verifyOnce();
      if (snap.ok) break;
      const after = await fileState(this.opts.logPath);
      if (!after || after.size === snap.size) break;
    }
    this.snapshot = snap!;
    return snap!;
  }

  private async verifyOnce(): Promise<Snapshot> {
    this.passes++;
    const startedAt = this.now();
    const before = (await fileState(this.opts.logPath)) ?? { size: 0, mtimeMs: 0 };
    const wanted = this.opts.wantedUids?.();
    const index = new Map<string, Entry>();
    const evicted = new Set<string>();
    const report = await verifyLog({
      logPath: this.opts.logPath,
      keyring: await this.opts.keyring(),
      ...(this.opts.checkpointDir ? { checkpointDir: this.opts.checkpointDir } : {}),
      onRecord: (r) => {
        const uid = taskUidOf(r.body);
        if (uid !== undefined && (!wanted || wanted.has(uid))) this.add(index, evicted, uid, r);
      },
    });
    const base = { ...before, startedAt, tookMs: this.now() - startedAt, index, evicted, wanted };
    if (report.ok) {
      const signed =
        report.signedSeq > 0 ? `signed checkpoint at seq ${report.signedSeq}` : 'no checkpoint yet';
      return {
        ...base,
        ok: true,
        checkedTo: report.records,
        message: `verified: events 1..${report.records} (hash chain, MACs and contents; ${signed})`,
      };
    }
    const { problem, records } = report;
    const where = `${problem.seq !== undefined ? ` at seq ${problem.seq}` : ''}${problem.offset !== undefined ? `, offset ${problem.offset}` : ''}`;
    return {
      ...base,
      ok: false,
      checkedTo: records,
      message: `verification FAILED [${problem.code}]${where}: ${problem.message} (${records} events verified before it; nothing after it is shown)`,
    };
  }

  private add(index: Map<string, Entry>, evicted: Set<string>, uid: string, scanned: ScannedRecord): void {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(scanned.body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return; // a verified frame holds JSON: unreachable unless the writer was broken
    }
    // The byte search only pre-selects; the parsed event decides.
    if ((event.task as { uid?: unknown } | undefined)?.uid !== uid) return;
    const r: AuditRecord = {
      seq: scanned.seq,
      time: new Date(scanned.time).toISOString(),
      kid: scanned.kid,
      event,
    };
    let entry = index.get(uid);
    if (entry) {
      index.delete(uid); // re-inserted below: the Map's order is "least recently active first"
    } else {
      entry = { records: [], total: 0 };
      if (index.size >= this.maxTasks) {
        const oldest = index.keys().next().value;
        if (oldest !== undefined) {
          index.delete(oldest);
          evicted.add(oldest);
        }
      }
    }
    index.set(uid, entry);
    entry.total++;
    entry.records.push(r);
    if (entry.records.length > this.perTask) entry.records.shift();
  }
}

const TASK_KEY = Buffer.from('"task":{');
const UID_KEY = Buffer.from('"uid":"');
const QUOTE = 0x22;
const CLOSE_BRACE = 0x7d;

/**
 * The task uid of an event body, found in its bytes without decoding it: the `uid` inside the first
 * `"task":{…}` object. The sequence `"task":{` cannot occur inside a JSON string (its quotes would be
 * escaped), and a task reference holds only Kubernetes names and a uid (no braces or quotes).
 * Undefined when there is none. A pre-selection: the caller confirms on the parsed event.
 */
export function taskUidOf(body: Buffer): string | undefined {
  const at = body.indexOf(TASK_KEY);
  if (at < 0) return undefined;
  const end = body.indexOf(CLOSE_BRACE, at);
  const key = body.indexOf(UID_KEY, at);
  if (end < 0 || key < 0 || key > end) return undefined;
  const start = key + UID_KEY.length;
  const close = body.indexOf(QUOTE, start);
  if (close < 0 || close > end) return undefined;
  return body.toString('utf8', start, close);
}
