/**
 * The machine-wide state a node touches — network devices, netfilter rules,
 * ipsets, mounts, cgroups, network namespaces, kernel settings, files outside
 * the state directory — read as one snapshot (so a test can compare before
 * node:up with after node:down) and the commands that remove what is ours.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, realpath, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../cluster/processes.ts';
import { CGROUP_ROOT, NETWORK, OUTSIDE_PATHS, SYSCTLS } from './layout.ts';
import { nftTables, normalizeIptablesSave } from './netfilter.ts';

export async function sh(command: string, args: string[], input?: string): Promise<string> {
  const result = await runCommand(command, args, input !== undefined ? { input } : {});
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** Like sh, but an absent tool or a failure yields `fallback` (only for read-only probes in snapshots). */
async function read(command: string, args: string[], fallback: string): Promise<string> {
  const result = await runCommand(command, args).catch(() => undefined);
  return result && result.code === 0 ? result.stdout : fallback;
}

const sysctlPath = (name: string) => `/proc/sys/${name.replace(/\./g, '/')}`;

export async function readSysctls(): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const name of SYSCTLS) {
    const value = await readFile(sysctlPath(name), 'utf8').catch(() => undefined);
    if (value !== undefined) values[name] = value.trim();
  }
  return values;
}

/** Writes back every setting that differs from `baseline`; returns the names it restored. */
export async function restoreSysctls(baseline: Record<string, string>): Promise<string[]> {
  const now = await readSysctls();
  const restored: string[] = [];
  for (const [name, value] of Object.entries(baseline)) {
    if (now[name] !== value) {
      await writeFile(sysctlPath(name), value);
      restored.push(`${name}=${value}`);
    }
  }
  return restored;
}

export async function links(): Promise<string[]> {
  const out = await read('ip', ['-o', 'link', 'show'], '');
  return out
    .split('\n')
    .map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined)
    .sort();
}

export async function createBridge(): Promise<void> {
  if ((await links()).includes(NETWORK.bridge)) await sh('ip', ['link', 'del', NETWORK.bridge]);
  await sh('ip', ['link', 'add', NETWORK.bridge, 'type', 'bridge']);
  await sh('ip', ['addr', 'add', `${NETWORK.nodeIp}/24`, 'dev', NETWORK.bridge]);
  await sh('ip', ['link', 'set', NETWORK.bridge, 'up']);
}

export interface Mount {
  mountPoint: string;
  fsType: string;
}

export async function mounts(): Promise<Mount[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const fields = line.split(' ');
      const dash = fields.indexOf('-');
      const unescapeOctal = (s: string) =>
        s.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
      return { mountPoint: unescapeOctal(fields[4] ?? ''), fsType: fields[dash + 1] ?? '' };
    });
}

const under = (path: string, roots: readonly string[]) =>
  roots.some((r) => path === r || path.startsWith(`${r}/`));

/** Unmounts (lazily, deepest first) every mount under `roots`; returns what it unmounted. */
export async function unmountUnder(roots: readonly string[]): Promise<string[]> {
  const unmounted: string[] = [];
  for (let round = 0; round < 5; round++) {
    const targets = (await mounts())
      .map((m) => m.mountPoint)
      .filter((p) => under(p, roots))
      .sort((a, b) => b.length - a.length);
    if (targets.length === 0) break;
    for (const target of targets) {
      const result = await runCommand('umount', ['-l', target]);
      if (result.code === 0) unmounted.push(target);
    }
  }
  return unmounted;
}

export async function cgroupControllers(): Promise<string[]> {
  return (await readdir('/sys/fs/cgroup').catch(() => [])).sort();
}

/** Directories at most `depth` below every controller's root: new ones are the node's leftovers. */
export async function cgroupDirs(depth = 2): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, left: number): Promise<void> => {
    if (left === 0) return;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      found.push(join(dir, entry.name));
      await walk(join(dir, entry.name), left - 1);
    }
  };
  for (const controller of await cgroupControllers()) await walk(join('/sys/fs/cgroup', controller), depth);
  return found.sort();
}

/**
 * Creates the node's cgroup parent in every hierarchy (the kubelet refuses a
 * cgroupRoot that does not exist); a new cpuset must be given the root's cpus
 * and memory nodes before anything can run in it.
 */
export async function createNodeCgroups(): Promise<void> {
  for (const controller of await cgroupControllers()) {
    const dir = join('/sys/fs/cgroup', controller, CGROUP_ROOT);
    if (!existsSync(join('/sys/fs/cgroup', controller, 'cgroup.procs'))) continue;
    await mkdir(dir, { recursive: true });
    if (controller === 'cpuset') {
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        await writeFile(join(dir, file), await readFile(join('/sys/fs/cgroup/cpuset', file), 'utf8'));
      }
    }
  }
}

/** Pids in the node's cgroups (all controllers). */
export async function pidsInNodeCgroups(): Promise<number[]> {
  const pids = new Set<number>();
  const walk = async (dir: string): Promise<void> => {
    const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const pid of procs.split('\n').filter(Boolean)) pids.add(Number(pid));
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isDirectory()) await walk(join(dir, entry.name));
  };
  for (const controller of await cgroupControllers())
    await walk(join('/sys/fs/cgroup', controller, CGROUP_ROOT));
  return [...pids];
}

/** Removes the node's cgroup tree in every controller (children first); returns the dirs it removed. */
export async function removeNodeCgroups(): Promise<string[]> {
  const removed: string[] = [];
  const remove = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
    if (!entries) return;
    for (const entry of entries) if (entry.isDirectory()) await remove(join(dir, entry.name));
    await rmdir(dir).then(
      () => removed.push(dir),
      () => undefined,
    );
  };
  for (const controller of await cgroupControllers())
    await remove(join('/sys/fs/cgroup', controller, CGROUP_ROOT));
  return removed;
}

/** Pids running one of `executables` whose command line mentions `needle` (e.g. the state directory). */
export async function pidsOf(executables: readonly string[], needle: string): Promise<number[]> {
  const wanted = new Set(await Promise.all(executables.map((e) => realpath(e).catch(() => e))));
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const exe = (await readlink(`/proc/${name}/exe`).catch(() => '')).replace(/ \(deleted\)$/, '');
    if (!wanted.has(exe)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(needle)) pids.push(Number(name));
  }
  return pids;
}

export interface HostSnapshot {
  links: string[];
  routes: string;
  iptables: string;
  ip6tables: string;
  nftTables: string[];
  ipsets: string[];
  mounts: string[];
  cgroups: string[];
  netns: string[];
  outsidePaths: string[];
  sysctls: Record<string, string>;
}

/** Everything node:up may change on the machine, read without changing anything. */
export async function snapshot(): Promise<HostSnapshot> {
  return {
    links: await links(),
    routes: (await read('ip', ['route', 'show', 'table', 'all'], '')).trim(),
    iptables: normalizeIptablesSave(await read('iptables-save', [], '')),
    ip6tables: normalizeIptablesSave(await read('ip6tables-save', [], '')),
    nftTables: nftTables(await read('nft', ['list', 'tables'], '')),
    ipsets: (await read('ipset', ['list', '-n'], '')).split('\n').filter(Boolean).sort(),
    mounts: (await mounts()).map((m) => `${m.mountPoint} ${m.fsType}`).sort(),
    cgroups: await cgroupDirs(),
    netns: (await read('ip', ['netns', 'list'], '')).split('\n').filter(Boolean).sort(),
    outsidePaths: OUTSIDE_PATHS.filter((p) => existsSync(p)),
    sysctls: await readSysctls(),
  };
}

/** Human-readable differences between two snapshots; empty when the machine is as it was. */
export function snapshotDiff(before: HostSnapshot, after: HostSnapshot): string[] {
  const diffs: string[] = [];
  const lists: (keyof HostSnapshot)[] = [
    'links',
    'nftTables',
    'ipsets',
    'mounts',
    'cgroups',
    'netns',
    'outsidePaths',
  ];
  for (const key of lists) {
    const a = new Set(before[key] as string[]);
    const b = new Set(after[key] as string[]);
    for (const item of b) if (!a.has(item)) diffs.push(`${key}: added ${item}`);
    for (const item of a) if (!b.has(item)) diffs.push(`${key}: removed ${item}`);
  }
  for (const key of ['routes', 'iptables', 'ip6tables'] as const) {
    const a = new Set(before[key].split('\n'));
    const b = new Set(after[key].split('\n'));
    for (const line of b) if (!a.has(line)) diffs.push(`${key}: added ${line}`);
    for (const line of a) if (!b.has(line)) diffs.push(`${key}: removed ${line}`);
  }
  for (const [name, value] of Object.entries(before.sysctls)) {
    if (after.sysctls[name] !== value) diffs.push(`sysctl ${name}: ${value} → ${after.sysctls[name]}`);
  }
  return diffs;
}
