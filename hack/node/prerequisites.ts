/** What node:up needs from the machine, checked up front so a missing piece is named, not discovered. */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { aptInstall, onPath } from '../debian.ts';

export interface HostFacts {
  uid: number;
  commands: Record<string, boolean>;
  cniPlugins: Record<string, boolean>;
  filesystems: string[];
  cgroupV1Memory: boolean;
  bridgeNetfilter: boolean;
  /** Drop-in files containerd would merge into the node's config (it always reads /etc/containerd/conf.d). */
  containerdDropIns: string[];
}

export const REQUIRED_COMMANDS: Record<string, string> = {
  ip: 'iproute2',
  iptables: 'iptables',
  'iptables-save': 'iptables',
  'iptables-restore': 'iptables',
  ipset: 'ipset',
  nft: 'nftables',
  mount: 'mount',
  umount: 'mount',
  openssl: 'openssl',
  gcc: 'gcc libc6-dev',
  'dpkg-deb': 'dpkg',
  'apt-get': 'apt',
  go: '(Go >= 1.26 from https://go.dev/doc/install)',
  flock: 'util-linux',
  patch: 'patch',
};
export const CNI_PLUGINS = ['bridge', 'host-local', 'loopback'];

/** Every reason node:up cannot run here, each saying what to do; empty when all is well. */
export function missingPrerequisites(facts: HostFacts): string[] {
  const reasons: string[] = [];
  if (facts.uid !== 0)
    reasons.push(
      'node:up needs root (it creates a bridge, iptables rules, mounts and cgroups): run it as root',
    );
  const missing = Object.keys(REQUIRED_COMMANDS).filter((c) => !facts.commands[c]);
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((c) => REQUIRED_COMMANDS[c]))].join(' ');
    reasons.push(`missing commands ${missing.join(', ')}: apt-get install ${packages}`);
  }
  const plugins = CNI_PLUGINS.filter((p) => !facts.cniPlugins[p]);
  if (plugins.length > 0) {
    reasons.push(
      `missing CNI plugins ${plugins.join(', ')} in /usr/lib/cni: apt-get install containernetworking-plugins`,
    );
  }
  if (!facts.filesystems.includes('overlay'))
    reasons.push("the kernel has no overlay filesystem (containerd's snapshotter needs it)");
  if (!facts.cgroupV1Memory)
    reasons.push(
      'no writable cgroup v1 memory hierarchy at /sys/fs/cgroup/memory (the node is configured for cgroup v1 + cgroupfs)',
    );
  if (!facts.bridgeNetfilter)
    reasons.push('bridge netfilter is off: modprobe br_netfilter (NetworkPolicy and Services need it)');
  if (facts.containerdDropIns.length > 0) {
    reasons.push(
      `containerd would merge ${facts.containerdDropIns.join(', ')} into the node's config: move them away while the node runs`,
    );
  }
  return reasons;
}

export async function hostFacts(): Promise<HostFacts> {
  const commands: Record<string, boolean> = {};
  for (const name of Object.keys(REQUIRED_COMMANDS)) commands[name] = await onPath(name);
  const cniPlugins = Object.fromEntries(CNI_PLUGINS.map((p) => [p, existsSync(`/usr/lib/cni/${p}`)]));
  const filesystems = (await readFile('/proc/filesystems', 'utf8'))
    .split('\n')
    .map((line) => line.split('\t').pop()!.trim());
  const bridgeNf = await readFile('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').catch(() => '0');
  return {
    uid: process.getuid?.() ?? -1,
    commands,
    cniPlugins,
    filesystems,
    cgroupV1Memory: existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes'),
    bridgeNetfilter: bridgeNf.trim() === '1',
    containerdDropIns: (await readdir('/etc/containerd/conf.d').catch(() => []))
      .filter((f) => f.endsWith('.toml'))
      .map((f) => `/etc/containerd/conf.d/${f}`),
  };
}

/** The Debian packages that bring what `facts` lacks (Go is not one: it comes from go.dev). */
export function missingPackages(facts: HostFacts): string[] {
  const commands = Object.keys(REQUIRED_COMMANDS).filter((c) => !facts.commands[c] && c !== 'go');
  const packages = commands.flatMap((c) => REQUIRED_COMMANDS[c]!.split(' '));
  if (CNI_PLUGINS.some((p) => !facts.cniPlugins[p])) packages.push('containernetworking-plugins');
  return [...new Set(packages)];
}

/** Installs the missing Debian packages (node:up runs as root), then fails naming whatever is still missing. */
export async function checkPrerequisites(): Promise<void> {
  let facts = await hostFacts();
  const packages = missingPackages(facts);
  if (packages.length > 0 && facts.uid === 0) {
    await aptInstall(packages, 'the real node', (m) => process.stderr.write(`[node] ${m}\n`));
    facts = await hostFacts();
  }
  const reasons = missingPrerequisites(facts);
  if (reasons.length > 0) throw new Error(`cannot start the node:\n  - ${reasons.join('\n  - ')}`);
}
