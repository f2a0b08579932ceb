/**
 * node:down: stops every component and removes what the node made on the
 * machine, so that it is left as node:up found it (see README.md).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { kubectl } from '../cluster/controlplane.ts';
import { isAlive, runCommand, stopProcess } from '../cluster/processes.ts';
import {
  links,
  pidsInNodeCgroups,
  pidsOf,
  removeNodeCgroups,
  restoreSysctls,
  sh,
  unmountUnder,
} from './host.ts';
import { CGROUP_ROOT, layout, NETWORK, OUTSIDE_PATHS } from './layout.ts';
import { iptablesCleanupScript, nftTableIsEmpty, nftTables } from './netfilter.ts';
import { type Baseline, BIN, type Component, type NodeState, readState } from './state.ts';

async function drainPods(state: NodeState): Promise<void> {
  await kubectl(state, [
    'delete',
    'pods',
    '--all',
    '--all-namespaces',
    '--grace-period=0',
    '--force',
    '--wait=false',
  ]).catch(() => undefined);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const out = await runCommand(BIN.ctr, [
      '--address',
      state.containerdSocket,
      '-n',
      'k8s.io',
      'tasks',
      'ls',
      '-q',
    ]);
    if (out.code !== 0 || out.stdout.trim() === '') return;
    await sleep(250);
  }
}

async function killPids(pids: number[]): Promise<number> {
  let killed = 0;
  for (const pid of pids) {
    if (!isAlive(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}

async function cleanNetfilter(baseline: Baseline | undefined, report: string[]): Promise<void> {
  for (const [save, restore] of [
    ['iptables-save', 'iptables-restore'],
    ['ip6tables-save', 'ip6tables-restore'],
  ] as const) {
    const current = await runCommand(save, []).catch(() => undefined);
    if (current?.code !== 0) continue;
    const script = iptablesCleanupScript(current.stdout);
    if (script) {
      await sh(restore, ['--noflush'], script);
      report.push(
        `${save.replace('-save', '')}: removed ${script.split('\n').filter((l) => l.startsWith('-X')).length} chains`,
      );
    }
  }
  const sets =
    (await runCommand('ipset', ['list', '-n']).catch(() => undefined))?.stdout.split('\n').filter(Boolean) ??
    [];
  const keep = new Set(baseline?.ipsets ?? []);
  const ours = sets.filter((s) => !keep.has(s));
  for (const set of ours) await runCommand('ipset', ['flush', set]);
  for (const set of ours) await runCommand('ipset', ['destroy', set]);
  if (ours.length > 0) report.push(`ipset: destroyed ${ours.length} sets`);
  const tablesBefore = new Set(baseline?.nftTables ?? []);
  const tables = nftTables(
    (await runCommand('nft', ['list', 'tables']).catch(() => undefined))?.stdout ?? '',
  );
  for (const table of tables.filter((t) => !tablesBefore.has(t))) {
    const [family, name] = table.split(' ') as [string, string];
    const listing = await runCommand('nft', ['list', 'table', family, name]);
    if (listing.code === 0 && nftTableIsEmpty(listing.stdout)) {
      await sh('nft', ['delete', 'table', family, name]);
      report.push(`nft: deleted empty table ${table}`);
    } else {
      report.push(`nft: table ${table} still holds rules; left in place (check it)`);
    }
  }
}

/**
 * Stops every component and removes what the node made: pods, shims and
 * sandboxes, mounts, network devices, netfilter rules and ipsets, cgroups,
 * kernel settings it changed, files outside the state dir, then the state dir.
 * Returns what it did, one line per kind.
 */
export async function stopNode(dir: string): Promise<string[]> {
  const l = layout(dir);
  const report: string[] = [];
  const started = Date.now();
  const note = (line: string) => report.push(`${line} (at ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  const state = await readState(dir);
  const baseline = existsSync(l.baseline)
    ? (JSON.parse(await readFile(l.baseline, 'utf8')) as Baseline)
    : undefined;
  if (state?.pids['kube-apiserver'] && isAlive(state.pids['kube-apiserver']) && state.pids.containerd) {
    await drainPods(state);
    note('drained pods');
  }
  if (state) {
    // Node agents first (together), then containerd, then the controllers; the API server and etcd last.
    const waves: Component[][] = [
      ['kube-router', 'kube-proxy', 'kubelet'],
      ['containerd'],
      ['kube-scheduler', 'kube-controller-manager'],
    ];
    for (const wave of waves) {
      const pids = wave.map((c) => [c, state.pids[c]] as const).filter(([, pid]) => pid && isAlive(pid));
      await Promise.all(pids.map(([, pid]) => stopProcess(pid!)));
      for (const [component, pid] of pids) note(`stopped ${component} (pid ${pid})`);
    }
  }
  // Shims and sandboxes outlive containerd: find them by the state dir in their command line or cgroup.
  const strays = [
    ...new Set([...(await pidsOf(Object.values(BIN), dir)), ...(await pidsInNodeCgroups())]),
  ].filter((pid) => pid !== state?.pids.etcd && pid !== state?.pids['kube-apiserver']);
  const killed = await killPids(strays);
  if (killed > 0) note(`killed ${killed} leftover shim/sandbox processes`);
  for (const component of ['kube-apiserver', 'etcd'] as const) {
    const pid = state?.pids[component];
    if (pid !== undefined && isAlive(pid)) {
      await stopProcess(pid);
      note(`stopped ${component} (pid ${pid})`);
    }
  }
  await sleep(100);
  const unmounted = await unmountUnder([
    dir,
    '/run/containerd',
    '/var/lib/kubelet',
    '/run/netns',
    '/var/run/netns',
  ]);
  if (unmounted.length > 0) note(`unmounted ${unmounted.length} mounts`);
  await cleanNetfilter(baseline, report);
  // The bridge, pod veths left by killed sandboxes, and test devices (cpaw*: e.g. the decoy host's veth).
  const ourLinks = (await links()).filter(
    (name) =>
      name === NETWORK.bridge || (/^(veth|cpaw)/.test(name) && !(baseline?.links ?? []).includes(name)),
  );
  for (const name of ourLinks) await runCommand('ip', ['link', 'del', name]);
  if (ourLinks.length > 0) note(`deleted links ${ourLinks.join(', ')}`);
  const testNetns = (await runCommand('ip', ['netns', 'list'])).stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith('cpaw-'));
  for (const name of testNetns) await runCommand('ip', ['netns', 'del', name]);
  if (testNetns.length > 0) note(`deleted network namespaces ${testNetns.join(', ')}`);
  const cgroups = await removeNodeCgroups();
  if (cgroups.length > 0) note(`removed ${cgroups.length} cgroups under ${CGROUP_ROOT}`);
  if (baseline) {
    const restored = await restoreSysctls(baseline.sysctls);
    if (restored.length > 0) note(`restored sysctls ${restored.join(', ')}`);
    const created = OUTSIDE_PATHS.filter((p) => existsSync(p) && !baseline.outsidePaths.includes(p));
    for (const path of created) await runCommand('rm', ['-rf', '--one-file-system', path]);
    if (created.length > 0) note(`removed ${created.join(', ')}`);
  }
  if (existsSync(dir)) {
    const stillMounted = await unmountUnder([dir]);
    if (stillMounted.length > 0) note(`unmounted ${stillMounted.length} more mounts`);
    const removed = await runCommand('rm', ['-rf', '--one-file-system', dir]);
    if (removed.code !== 0) throw new Error(`could not remove ${dir}: ${removed.stderr.trim()}`);
    note(`removed ${dir}`);
  }
  return report;
}
