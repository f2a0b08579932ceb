/**
 * The first seconds of `npm test` (and `npm run dev`): everything the tests need from the machine, checked
 * up front. Missing Debian packages are installed when we are root (else the exact command is printed and
 * the run stops); the pinned binaries (control plane, helm, Ollama + its model) are built once and cached in
 * ~/.cache/closedpaw. Nothing is half-done: a failure says what to do and exits non-zero.
 *
 *   node hack/prerequisites.ts [--no-ollama]
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './cluster/processes.ts';
import { aptInstall, onPath } from './debian.ts';

const HACK = import.meta.dirname;

/** A command the tests run, and the Debian package that brings it. */
const DEBIAN: Array<{ command: string; found: () => Promise<boolean>; pkg: string; why: string }> = [
  { command: 'openssl', found: () => onPath('openssl'), pkg: 'openssl', why: 'control-plane certificates' },
  { command: 'runsc', found: () => onPath('runsc'), pkg: 'runsc', why: 'the gVisor end-to-end tests' },
  {
    command: 'chromium',
    found: async () => existsSync('/usr/bin/chromium'),
    pkg: 'chromium',
    why: 'the approval-UI browser tests',
  },
  { command: 'g++', found: () => onPath('g++'), pkg: 'g++', why: 'building Ollama (cgo)' },
  {
    command: 'python3',
    found: () => onPath('python3'),
    pkg: 'python3',
    why: 'fetching the test model from PyPI',
  },
  { command: 'flock', found: () => onPath('flock'), pkg: 'util-linux', why: 'one heavy build at a time' },
];

function log(message: string): void {
  process.stderr.write(`[prerequisites] ${message}\n`);
}

async function run(command: string, args: string[], what: string): Promise<void> {
  await runIn(process.cwd(), command, args, what);
}

async function runIn(cwd: string, command: string, args: string[], what: string): Promise<void> {
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'], cwd });
    child.once('error', reject);
    child.once('exit', (c) => resolve(c ?? 1));
  });
  if (code !== 0) throw new Error(`${what} failed (exit ${code}); see the output above`);
}

async function debianPackages(): Promise<void> {
  const missing: typeof DEBIAN = [];
  for (const item of DEBIAN) if (!(await item.found())) missing.push(item);
  const why = missing.map((m) => `${m.command} (${m.why})`).join(', ');
  await aptInstall(
    missing.map((m) => m.pkg),
    why,
    log,
  );
}

/** Go >= 1.26 on PATH, within seconds (the builds would fail minutes later otherwise). */
async function goToolchain(): Promise<void> {
  const version = await runCommand('go', ['env', 'GOVERSION']).catch(() => undefined);
  const [major, minor] = (/^go(\d+)\.(\d+)/.exec(version?.stdout.trim() ?? '') ?? []).slice(1).map(Number);
  if (version?.code !== 0 || major === undefined || minor === undefined) {
    throw new Error(
      'Go >= 1.26 is missing: install it (https://go.dev/doc/install), then run the tests again',
    );
  }
  if (major < 1 || (major === 1 && minor < 26)) {
    throw new Error(
      `Go ${version.stdout.trim()} is too old: install Go >= 1.26 (https://go.dev/doc/install), then run the tests again`,
    );
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  await goToolchain();
  await debianPackages();
  log('control plane and helm (cached per pin; a cold build takes several minutes)');
  await run('bash', [join(HACK, 'build-kube.sh')], 'hack/build-kube.sh');
  // The Pod Security Admission fixtures the sandbox admission test reads (a module of the pinned release).
  await runIn(
    join(HACK, 'kube'),
    'go',
    ['mod', 'download', 'k8s.io/pod-security-admission'],
    'go mod download',
  );
  if (!process.argv.includes('--no-ollama')) {
    log('Ollama v0.24.0 and SmolLM2-135M (cached per pin; a cold build takes 4–11 minutes)');
    await run('bash', [join(HACK, 'ollama/build.sh')], 'hack/ollama/build.sh');
  }
  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

try {
  await main();
} catch (error) {
  process.stderr.write(`[prerequisites] ${(error as Error).message}\n`);
  process.exit(1);
}
