/**
 * Helm for `closedpaw up` and `down`: which helm binary (--helm, $CLOSEDPAW_HELM, the checkout's
 * hack/bin/helm, then PATH), where the chart is (shipped in the package), and the argument lists.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { Failure } from './common.ts';

/** The package root: above operator/src/cli (sources) or dist/cli/operator/src/cli (built JS). */
export function packageRoot(): string {
  let dir = import.meta.dirname;
  for (let i = 0; i < 6; i++, dir = dirname(dir)) {
    if (existsSync(join(dir, 'charts', 'closedpaw', 'Chart.yaml'))) return dir;
  }
  return resolve(import.meta.dirname, '../../..');
}

export const defaultChart = () => join(packageRoot(), 'charts', 'closedpaw');

/**
 * Where each file of crds/ belongs in the chart (the chart holds them as symlinks): the CRDs in the
 * chart's crds/, everything else (admission policies, roles) in its files/.
 */
export function chartLinks(crdFiles: string[]): Array<{ from: string; to: string }> {
  return crdFiles
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => ({ from: f, to: f.endsWith('.closedpaw.dev.yaml') ? `crds/${f}` : `files/${f}` }));
}

/**
 * The chart to install. In a checkout its crds/ and files/ are symlinks into crds/; npm packs no
 * symlinks, so in the package they are missing: then the chart is copied to a temp dir and completed
 * from the package's crds/.
 */
export function materializeChart(
  chart: string,
  crdsDir = join(packageRoot(), 'crds'),
): { dir: string; cleanup(): void } {
  const links = chartLinks(existsSync(crdsDir) ? readdirSync(crdsDir) : []);
  if (links.every((l) => existsSync(join(chart, l.to)))) return { dir: chart, cleanup: () => undefined };
  if (links.length === 0)
    throw new Failure(
      `the chart at ${chart} is incomplete and there is no crds/ beside it: reinstall closedpaw`,
    );
  const tmp = mkdtempSync(join(tmpdir(), 'closedpaw-chart-'));
  const dir = join(tmp, 'closedpaw');
  cpSync(chart, dir, { recursive: true, dereference: true });
  for (const l of links) cpSync(join(crdsDir, l.from), join(dir, l.to), { dereference: true });
  return { dir, cleanup: () => rmSync(tmp, { recursive: true, force: true }) };
}

const executable = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The helm to run, or a Failure saying how to get one. */
export function findHelm(explicit: string | undefined, env: Record<string, string | undefined>): string {
  if (explicit) {
    if (!executable(explicit)) throw new Failure(`--helm ${explicit}: not an executable file`);
    return explicit;
  }
  const candidates = [
    env.CLOSEDPAW_HELM,
    join(packageRoot(), 'hack', 'bin', 'helm'),
    ...(env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, 'helm')),
  ].filter((c): c is string => Boolean(c));
  const found = candidates.find(executable);
  if (!found) {
    throw new Failure(
      'helm not found: install Helm 3 (helm.sh/docs/intro/install) and put it on PATH, or pass --helm PATH',
    );
  }
  return found;
}

export interface UpArgs {
  release: string;
  namespace: string;
  chart: string;
  values: string[];
  set: string[];
}

export function upgradeArgs(a: UpArgs): string[] {
  return [
    'upgrade',
    '--install',
    a.release,
    a.chart,
    '--namespace',
    a.namespace,
    '--create-namespace',
    ...a.values.flatMap((v) => ['--values', v]),
    ...a.set.flatMap((s) => ['--set', s]),
    '--output',
    'json',
  ];
}

/** The same release, chart and values as `upgradeArgs`, rendered offline with the CRDs. */
export function templateArgs(a: UpArgs): string[] {
  return [
    'template',
    a.release,
    a.chart,
    '--namespace',
    a.namespace,
    ...a.values.flatMap((v) => ['--values', v]),
    ...a.set.flatMap((s) => ['--set', s]),
    '--include-crds',
  ];
}

export const uninstallArgs = (release: string, namespace: string, timeoutSeconds: number) => [
  'uninstall',
  release,
  '--namespace',
  namespace,
  '--wait',
  '--timeout',
  `${timeoutSeconds}s`,
];

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runHelm(
  helm: string,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<HelmResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(helm, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code: code ?? 1, stdout, stderr }));
  });
}

/** helm's own error in one line, with what to do for the failures people meet. */
export function explainHelmError(stderr: string): string {
  const line =
    stderr
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('Error:'))
      .pop() ??
    stderr.trim().split('\n').pop() ??
    'helm failed';
  if (/invalid ownership metadata|cannot be imported into the current release/.test(line)) {
    return `${line} — objects from an earlier kubectl apply -f crds/ (or another release) are in the way: delete them, or adopt them with --take-ownership`;
  }
  if (/values don't meet the specifications of the schema|values\.schema/.test(line)) {
    return `${line} — fix that value (the chart's values.schema.json names each field)`;
  }
  if (/release: not found/.test(line)) return `${line} — helm list -A shows the installed releases`;
  return line;
}
