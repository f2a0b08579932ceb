// `closedpaw audit <verify|export|tail|keygen|pubkey>`: offline tools for the sealed audit log.
import { parseArgs } from 'node:util';
import type { Problem, ScanKeys, VerifyReport, VerifySummary } from '../audit/index.ts';
import {
  exportRecords,
  generateKey,
  loadKeyring,
  loadPublicKeyring,
  publicJwks,
  recordToJsonLine,
  tailRecords,
  verifyLog,
} from '../audit/index.ts';

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const USAGE = `usage: closedpaw audit <command> [options]
  verify  --log <file> (--keys <dir> | --pubkeys <jwks file>) [--checkpoints <dir>]
          with --keys: everything, contents included; with --pubkeys (no secrets): chain, framing,
          sequence numbers and signed checkpoints, without decrypting
  export  --log <file> --keys <dir> [--checkpoints <dir>] [--since <ISO time>] [--format jsonl]
  tail    --log <file> --keys <dir> [-n <count>]
  keygen  --dir <dir> [--kid <id>] [--no-activate]
  pubkey  --dir <dir>      print the public keys (JWKS) for external auditors
exit codes: 0 ok, 1 verification failed, 2 usage or I/O error`;

export const OPTIONS = {
  log: { type: 'string' },
  keys: { type: 'string' },
  pubkeys: { type: 'string' },
  checkpoints: { type: 'string' },
  since: { type: 'string' },
  format: { type: 'string', default: 'jsonl' },
  n: { type: 'string', short: 'n', default: '10' },
  dir: { type: 'string' },
  kid: { type: 'string' },
  'no-activate': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** The commands `closedpaw audit` dispatches (shell completion offers them). */
export const AUDIT_SUBCOMMANDS = ['verify', 'export', 'tail', 'keygen', 'pubkey'] as const;

class UsageError extends Error {}

export async function runAuditCli(argv: string[], io: CliIo): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
    const [verb, ...extra] = positionals;
    if (values.help || verb === 'help') {
      io.stdout(`${USAGE}\n`);
      return 0;
    }
    if (!verb) throw new UsageError('missing command');
    if (extra.length > 0) throw new UsageError(`unexpected argument: ${extra[0]}`);
    return await dispatch(verb, values, io);
  } catch (err) {
    const usage =
      err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS');
    io.stderr(`closedpaw audit: ${(err as Error).message}\n${usage ? `${USAGE}\n` : ''}`);
    return 2;
  }
}

async function dispatch(verb: string, v: Values, io: CliIo): Promise<number> {
  switch (verb) {
    case 'verify':
      return verify(v, io);
    case 'export':
      return exportJsonl(v, io);
    case 'tail':
      return tail(v, io);
    case 'keygen':
      return keygen(v, io);
    case 'pubkey':
      return pubkey(v, io);
    default:
      throw new UsageError(`unknown command "${verb}"`);
  }
}

function need(v: Values, name: 'log' | 'keys' | 'dir'): string {
  const value = v[name];
  if (!value) throw new UsageError(`--${name} is required`);
  return value;
}

async function store(v: Values) {
  const keyring = await loadKeyring(need(v, 'keys'));
  return { logPath: need(v, 'log'), keyring, checkpointDir: v.checkpoints };
}

async function verify(v: Values, io: CliIo): Promise<number> {
  if (v.keys && v.pubkeys) throw new UsageError('give --keys or --pubkeys, not both');
  const keyring: ScanKeys = v.pubkeys
    ? await loadPublicKeyring(v.pubkeys)
    : await loadKeyring(need(v, 'keys'));
  const report = await verifyLog({ logPath: need(v, 'log'), keyring, checkpointDir: v.checkpoints });
  if (!report.ok) return failure(report, io);
  io.stdout(`OK ${describe(report)}\n`);
  return 0;
}

async function exportJsonl(v: Values, io: CliIo): Promise<number> {
  if (v.format !== 'jsonl') throw new UsageError(`unsupported --format "${v.format}" (only jsonl)`);
  const since = v.since === undefined ? undefined : Date.parse(v.since);
  if (since !== undefined && Number.isNaN(since))
    throw new UsageError(`--since: not an ISO time: ${v.since}`);
  const report = await exportRecords({
    ...(await store(v)),
    since,
    onRecord: (r) => io.stdout(`${recordToJsonLine(r)}\n`),
  });
  return report.ok ? 0 : failure(report, io);
}

async function tail(v: Values, io: CliIo): Promise<number> {
  const n = Number(v.n);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`-n: want a positive integer, got ${v.n}`);
  const { logPath, keyring } = await store(v);
  const { records, problem } = await tailRecords({ logPath, keyring, n });
  for (const r of records) io.stdout(`${recordToJsonLine(r)}\n`);
  if (!problem) return 0;
  io.stderr(`FAIL ${formatProblem(problem)}\n`);
  return 1;
}

async function keygen(v: Values, io: CliIo): Promise<number> {
  const key = await generateKey(need(v, 'dir'), { kid: v.kid, activate: !v['no-activate'] });
  io.stdout(`generated key ${key.kid}${key.active ? ' (active)' : ''} in ${key.path}\n`);
  io.stdout(`checkpoint verification key: ${JSON.stringify(key.publicJwk)}\n`);
  io.stdout(`for external auditors: closedpaw audit pubkey --dir ${v.dir} > audit-pub.json\n`);
  return 0;
}

async function pubkey(v: Values, io: CliIo): Promise<number> {
  io.stdout(`${JSON.stringify(publicJwks(await loadKeyring(need(v, 'dir'))), null, 2)}\n`);
  return 0;
}

function failure(report: Extract<VerifyReport, { ok: false }>, io: CliIo): number {
  io.stderr(`FAIL ${formatProblem(report.problem)} (${report.records} records verified before it)\n`);
  return 1;
}

export function formatProblem(p: Problem): string {
  const where = [
    p.seq === undefined ? '' : `seq ${p.seq}`,
    p.offset === undefined ? '' : `offset ${p.offset}`,
  ];
  const at = where.filter(Boolean).join(', ');
  return `[${p.code}]${at ? ` at ${at}` : ''}: ${p.message}`;
}

function describe(s: VerifySummary): string {
  const iso = (t?: number) => (t === undefined ? '-' : new Date(t).toISOString());
  const frames = `${s.frames} frame${s.frames === 1 ? '' : 's'}`;
  const times =
    s.level === 'full'
      ? `${iso(s.firstTime)} .. ${iso(s.lastTime)}`
      : `sealed ${iso(s.firstSealed)} .. ${iso(s.lastSealed)}`;
  const range = s.records === 0 ? 'empty log' : `seq 1..${s.end.seq}, ${times}`;
  const cps = [
    s.local ? `local checkpoint seq ${s.local.seq}` : 'no local checkpoint',
    s.external ? `external checkpoint seq ${s.external.seq}` : 'no external checkpoint',
  ];
  const level =
    s.level === 'full'
      ? 'full (contents authenticated)'
      : 'public keys only (chain, framing, sequence and signatures checked; contents not decrypted)';
  const unsigned =
    s.signedSeq < s.end.seq
      ? `; seq ${s.signedSeq + 1}..${s.end.seq} come after the newest checkpoint and are not covered by a signature${s.level === 'public' ? ' (verify with --keys to authenticate them)' : ''}`
      : '';
  return `${s.records} records in ${frames} (${range}); ${cps.join(', ')}; log ${s.logId}; ${level}${unsigned}`;
}
