import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type HostSnapshot, snapshotDiff } from '../../hack/node/host.ts';

const base: HostSnapshot = {
  links: ['eth0', 'lo'],
  routes: 'default via 192.0.2.1 dev eth0',
  iptables: '*filter\n:INPUT ACCEPT\nCOMMIT',
  ip6tables: '',
  nftTables: [],
  ipsets: [],
  mounts: ['/ ext4'],
  cgroups: ['/sys/fs/cgroup/memory/user'],
  netns: [],
  outsidePaths: [],
  sysctls: { 'kernel.panic': '1' },
};

test('identical snapshots have no differences', () => {
  assert.deepEqual(snapshotDiff(base, structuredClone(base)), []);
});

test('every kind of leftover is reported', () => {
  const after: HostSnapshot = {
    ...base,
    links: [...base.links, 'cpaw0'],
    routes: `${base.routes}\n10.244.0.0/24 dev cpaw0`,
    iptables: '*filter\n:INPUT ACCEPT\n:KUBE-FIREWALL -\nCOMMIT',
    nftTables: ['ip filter'],
    ipsets: ['KUBE-DST-X'],
    mounts: [...base.mounts, '/run/netns/cni-1 nsfs'],
    cgroups: [...base.cgroups, '/sys/fs/cgroup/memory/closedpaw-node'],
    netns: ['cni-1'],
    outsidePaths: ['/var/lib/cni'],
    sysctls: { 'kernel.panic': '10' },
  };
  assert.deepEqual(snapshotDiff(base, after), [
    'links: added cpaw0',
    'nftTables: added ip filter',
    'ipsets: added KUBE-DST-X',
    'mounts: added /run/netns/cni-1 nsfs',
    'cgroups: added /sys/fs/cgroup/memory/closedpaw-node',
    'netns: added cni-1',
    'outsidePaths: added /var/lib/cni',
    'routes: added 10.244.0.0/24 dev cpaw0',
    'iptables: added :KUBE-FIREWALL -',
    'sysctl kernel.panic: 1 → 10',
  ]);
});
