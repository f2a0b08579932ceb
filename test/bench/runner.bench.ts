// Agent runner benchmark: builds the bundle (dist/runner.js) and reports its size, then runs it as the pod
// would (`node runner.js`) against a scripted Ollama for a short multi-step task (list, write, read, shell,
// answer) and reports its peak resident memory (VmHWM from /proc/<pid>/status), next to a bare `node -e`
// process measured the same way in the same run. Prints one JSON object per line on stdout.
// Run: node test/bench/runner.bench.ts [runs]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseResultFrame } from '../../operator/src/api/result-frame.ts';
import { ScriptedOllama } from '../support/scripted-ollama.ts';
import { percentile, report } from './report.ts';

const RUNS = Number(process.argv[2] ?? 5);
const repo = join(import.meta.dirname, '../..');
const bundle = join(repo, 'dist/runner.js');

async function run(command: string, args: string[], env: Record<string, string> = {}) {
  const started = performance.now();
  const child = spawn(command, args, { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  let exited = false;
  const done = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exited = true;
      resolve(code);
    }),
  );
  let peakKb = 0;
  while (!exited) {
    peakKb = Math.max(peakKb, peakRssKb(child.pid ?? 0));
    await sleep(2);
  }
  const code = await done;
  return { code, stdout, stderr, peakKb, ms: performance.now() - started };
}

/** VmHWM (peak resident set) of a live process, 0 once it is gone. */
function peakRssKb(pid: number): number {
  try {
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function runnerOnce(ollama: ScriptedOllama) {
  const dir = mkdtempSync(join(tmpdir(), 'closedpaw-runner-bench-'));
  try {
    const workspace = join(dir, 'workspace');
    mkdirSync(workspace);
    const spec = {
      prompt: 'Summarise the notes into summary.md and count the lines.',
      model: 'smollm2:135m',
      tools: ['fs.list', 'fs.read', 'fs.write', 'shell'],
      inputs: [
        { path: 'notes.md', content: Array.from({ length: 200 }, (_, i) => `- note ${i}`).join('\n') },
      ],
    };
    writeFileSync(join(dir, 'task.json'), JSON.stringify(spec));
    writeFileSync(join(dir, 'token'), 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJucy90In0.c2ln');
    ollama.chat(
      { type: 'tool_calls', calls: [{ name: 'list_files', arguments: { path: '.' } }] },
      { type: 'tool_calls', calls: [{ name: 'read_file', arguments: { path: 'notes.md' } }] },
      {
        type: 'tool_calls',
        calls: [{ name: 'write_file', arguments: { path: 'summary.md', content: '200 notes' } }],
      },
      {
        type: 'tool_calls',
        calls: [{ name: 'run_shell', arguments: { command: 'wc -l notes.md summary.md' } }],
      },
      { type: 'text', content: 'notes.md has 200 notes; summary.md written.' },
    );
    const result = await run(process.execPath, [bundle], {
      CLOSEDPAW_TASK_FILE: join(dir, 'task.json'),
      CLOSEDPAW_WORKSPACE: workspace,
      CLOSEDPAW_GATEWAY_URL: ollama.url,
      CLOSEDPAW_TOKEN_FILE: join(dir, 'token'),
      CLOSEDPAW_TERMINATION_LOG: join(dir, 'termination-log'),
    });
    if (result.code !== 0 || !parseResultFrame(result.stdout).ok) {
      throw new Error(`the runner failed (exit ${result.code}): ${result.stderr}`);
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

process.stderr.write('# building the runner bundle\n');
const build = await run(
  process.execPath,
  [join(repo, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'operator/src/runner/vite.config.ts'],
  {
    PATH: process.env.PATH ?? '',
  },
);
if (build.code !== 0) throw new Error(`the bundle build failed: ${build.stderr}`);
report('runner_bundle_kb', statSync(bundle).size / 1024, 'KiB');
report('runner_bundle_build_ms', build.ms, 'ms');

const ollama = await ScriptedOllama.start();
try {
  const runner: number[] = [];
  const baseline: number[] = [];
  const durations: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const result = await runnerOnce(ollama);
    runner.push(result.peakKb / 1024);
    durations.push(result.ms);
    const bare = await run(process.execPath, ['-e', 'setTimeout(() => {}, 300)']);
    baseline.push(bare.peakKb / 1024);
  }
  const runnerMb = percentile(runner, 50);
  const baselineMb = percentile(baseline, 50);
  report('runner_rss_mb', runnerMb, 'MB');
  report('node_baseline_rss_mb', baselineMb, 'MB');
  report('runner_rss_ratio', runnerMb / baselineMb, 'x');
  report('runner_task_ms', percentile(durations, 50), 'ms');
} finally {
  await ollama.stop();
}
