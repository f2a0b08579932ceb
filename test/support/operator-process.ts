/** The operator as a real child process (its bundle, as `npm run operator` runs it), for chaos tests and benchmarks. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../hack/cluster/processes.ts';
import { OPERATOR_NODE_FLAGS as LAUNCH_FLAGS, OPERATOR_ENV } from '../../operator/src/launch.ts';
import { operatorBundle } from './operator-bundle.ts';
import { operatorKubeConfig } from './operator-identity.ts';

/** The V8 flags of `npm run operator` (operator/src/launch.ts), or CLOSEDPAW_OPERATOR_NODE_FLAGS when set. */
export function operatorNodeFlags(): string[] {
  const fromEnv = process.env.CLOSEDPAW_OPERATOR_NODE_FLAGS;
  return fromEnv ? fromEnv.split(' ').filter(Boolean) : [...LAUNCH_FLAGS];
}

export interface OperatorProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  /** Everything the process wrote, for failure messages. */
  output(): string;
  metrics(): Promise<string>;
  rssMb(): Promise<number>;
  memory(): Promise<ResidentMemory>;
  waitReady(timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** A kubeconfig file for the chart's operator service account (written once per test process). */
let identityFile: Promise<string> | undefined;
function operatorKubeconfigFile(): Promise<string> {
  identityFile ??= (async () => {
    const kc = await operatorKubeConfig();
    const dir = await mkdtemp(join(tmpdir(), 'closedpaw-operator-identity-'));
    const file = join(dir, 'kubeconfig');
    await writeFile(file, kc.exportConfig(), { mode: 0o600 });
    return file;
  })();
  return identityFile;
}

/** One state directory per test process: restarted operators find their audit log and keys again. */
let stateDir: Promise<string> | undefined;
const processStateDir = () => (stateDir ??= mkdtemp(join(tmpdir(), 'closedpaw-operator-state-')));

/** Starts the built operator as a child process, as the chart's service account (unless env says otherwise). */
export async function startOperatorProcess(
  env: Record<string, string>,
  opts: { extraNodeFlags?: string[] } = {},
): Promise<OperatorProcess> {
  const main = await operatorBundle();
  const port = await freePort();
  const child = spawn(process.execPath, [...operatorNodeFlags(), ...(opts.extraNodeFlags ?? []), main], {
    env: {
      ...process.env,
      ...OPERATOR_ENV,
      KUBECONFIG: await operatorKubeconfigFile(),
      CLOSEDPAW_STATE_DIR: await processStateDir(),
      CLOSEDPAW_HTTP_ADDR: `127.0.0.1:${port}`,
      CLOSEDPAW_UI_ADDR: 'off',
      CLOSEDPAW_GATEWAY_ADDR: '127.0.0.1:0',
      CLOSEDPAW_GATEWAY_IP: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => {
    output = (output + chunk).slice(-20_000);
  });
  child.stderr!.on('data', (chunk) => {
    output = (output + chunk).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const get = async (path: string) => await fetch(`http://127.0.0.1:${port}${path}`);
  return {
    child,
    pid: child.pid!,
    port,
    output: () => output,
    metrics: async () => await (await get('/metrics')).text(),
    rssMb: async () => (await residentMemory(child.pid!)).rssMb,
    memory: () => residentMemory(child.pid!),
    waitReady: async (timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`operator exited (${child.exitCode}):\n${output}`);
        if (
          await get('/readyz').then(
            (r) => r.ok,
            () => false,
          )
        )
          return;
        await sleep(50);
      }
      throw new Error(`operator not ready after ${timeoutMs} ms:\n${output}`);
    },
    kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/**
 * A process's resident memory split by what backs it: anonymous pages (heap, stacks, malloc: what the
 * process really costs) and file pages (the mapped node binary and libraries: clean, shared, reclaimable).
 */
export interface ResidentMemory {
  rssMb: number;
  anonMb: number;
  fileMb: number;
}

export async function residentMemory(pid: number): Promise<ResidentMemory> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1]);
  const rss = kb('Rss');
  const anon = kb('Anonymous');
  if (!Number.isFinite(rss) || !Number.isFinite(anon))
    throw new Error(`no Rss/Anonymous in smaps_rollup of ${pid}`);
  return { rssMb: rss / 1024, anonMb: anon / 1024, fileMb: (rss - anon) / 1024 };
}

/** Sums a Prometheus counter across label sets, e.g. closedpaw_api_writes_total. */
export function sumMetric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').at(-1));
  }
  return sum;
}
