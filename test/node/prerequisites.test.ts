import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CNI_PLUGINS,
  type HostFacts,
  missingPackages,
  missingPrerequisites,
  REQUIRED_COMMANDS,
} from '../../hack/node/prerequisites.ts';

const ok: HostFacts = {
  uid: 0,
  commands: Object.fromEntries(Object.keys(REQUIRED_COMMANDS).map((c) => [c, true])),
  cniPlugins: Object.fromEntries(CNI_PLUGINS.map((p) => [p, true])),
  filesystems: ['ext4', 'overlay'],
  cgroupV1Memory: true,
  bridgeNetfilter: true,
  containerdDropIns: [],
};

const cases: [string, Partial<HostFacts>, RegExp | undefined][] = [
  ['all present', {}, undefined],
  ['not root', { uid: 1000 }, /needs root/],
  [
    'no iptables',
    { commands: { ...ok.commands, iptables: false } },
    /missing commands iptables: apt-get install iptables/,
  ],
  ['no ipset', { commands: { ...ok.commands, ipset: false } }, /apt-get install ipset/],
  ['no bridge plugin', { cniPlugins: { ...ok.cniPlugins, bridge: false } }, /containernetworking-plugins/],
  ['no overlayfs', { filesystems: ['ext4'] }, /overlay/],
  ['cgroup v2 only', { cgroupV1Memory: false }, /cgroup v1/],
  ['no br_netfilter', { bridgeNetfilter: false }, /br_netfilter/],
  ['containerd drop-ins', { containerdDropIns: ['/etc/containerd/conf.d/x.toml'] }, /move them away/],
];

for (const [name, change, expected] of cases) {
  test(`prerequisites: ${name}`, () => {
    const reasons = missingPrerequisites({ ...ok, ...change });
    if (expected === undefined) assert.deepEqual(reasons, []);
    else {
      assert.equal(reasons.length, 1, reasons.join('\n'));
      assert.match(reasons[0]!, expected);
    }
  });
}

test('the Debian packages node:up installs for what is missing (Go is never one of them)', () => {
  const without = (...names: string[]) => ({
    ...ok,
    commands: { ...ok.commands, ...Object.fromEntries(names.map((n) => [n, false])) },
  });
  const rows: [HostFacts, string[]][] = [
    [ok, []],
    [without('iptables', 'iptables-save'), ['iptables']],
    [without('gcc', 'nft'), ['nftables', 'gcc', 'libc6-dev'].sort()],
    [without('go'), []],
    [{ ...ok, cniPlugins: { ...ok.cniPlugins, loopback: false } }, ['containernetworking-plugins']],
  ];
  for (const [facts, packages] of rows) assert.deepEqual(missingPackages(facts).sort(), packages);
});
