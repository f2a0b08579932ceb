import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import {
  cniConfig,
  containerdConfig,
  kubeletConfig,
  kubeProxyConfig,
  kubeRouterArgs,
  RUNTIME_CLASSES,
  registryHostsToml,
  runscToml,
} from '../../hack/node/config.ts';
import { CGROUP_ROOT, layout, NETWORK } from '../../hack/node/layout.ts';

const l = layout('/state');

test('containerd: own root, state and socket; runsc the default and runc disabled; CNI from the state dir', () => {
  const toml = containerdConfig(l, 'localhost/closedpaw/pause:0.1.0', '/bin-dir');
  assert.match(toml, /^version = 4$/m);
  assert.match(toml, /^root = "\/state\/containerd\/root"$/m);
  assert.match(toml, /^state = "\/state\/containerd\/state"$/m);
  assert.match(toml, /address = "\/state\/containerd\/containerd.sock"/);
  assert.match(toml, /default_runtime_name = "runsc"/);
  assert.match(toml, /runtime_type = "io.containerd.runsc.v1"/);
  assert.match(toml, /runtime_path = "\/bin-dir\/containerd-shim-runsc-v1"/);
  assert.match(toml, /runtimes.runc\]\n\s+runtime_path = "\/nonexistent\//);
  assert.match(toml, /sandbox = "localhost\/closedpaw\/pause:0.1.0"/);
  assert.match(toml, /netns_mounts_under_state_dir = true/);
  assert.match(toml, /conf_dir = "\/state\/cni\/net.d"/);
  assert.match(toml, /"io.containerd.internal.v1.opt"/, 'the opt plugin writes /opt/containerd');
  assert.match(toml, /\.registry\]\n\s+config_path = "\/state\/containerd\/certs.d"/);
});

test('registries: the node never pulls; every registry is a closed loopback port', () => {
  const hosts = registryHostsToml();
  assert.match(hosts, /^server = "http:\/\/127\.0\.0\.1:1"$/m);
  assert.match(hosts, /^\[host\."http:\/\/127\.0\.0\.1:1"\]$/m);
  assert.doesNotMatch(hosts, /https?:\/\/(?!127\.0\.0\.1)/, 'no address off this machine');
});

test('runsc: systrap, state under the node dir, debug logs only when asked', () => {
  const quiet = runscToml(l, '/bin/runsc', false);
  assert.match(quiet, /platform = "systrap"/);
  assert.match(quiet, /^root = "\/state\/runsc\/root"$/m);
  assert.doesNotMatch(quiet, /debug/);
  assert.match(runscToml(l, '/bin/runsc', true), /debug-log = "\/state\/runsc\/logs\/%ID%\/"/);
});

test('CNI: one bridge, gateway = node IP, no masquerade, IPAM state in the state dir', () => {
  const conf = JSON.parse(cniConfig(l));
  assert.equal(conf.plugins.length, 1);
  const [bridge] = conf.plugins;
  assert.equal(bridge.bridge, NETWORK.bridge);
  assert.equal(bridge.isGateway, true);
  assert.equal(bridge.ipMasq, false);
  assert.equal(bridge.ipam.dataDir, '/state/cni/ipam');
  assert.deepEqual(bridge.ipam.ranges, [[{ subnet: NETWORK.podCidr, gateway: NETWORK.nodeIp }]]);
});

test('kubelet: cgroup v1 + cgroupfs under the node cgroup, webhook auth, no DNS, logs in the state dir', () => {
  const c = parse(kubeletConfig(l, '/ca', '/crt', '/key'));
  assert.equal(c.failCgroupV1, false);
  assert.equal(c.cgroupDriver, 'cgroupfs');
  assert.equal(c.cgroupRoot, CGROUP_ROOT);
  assert.equal(c.containerRuntimeEndpoint, 'unix:///state/containerd/containerd.sock');
  assert.equal(c.readOnlyPort, 0);
  assert.equal(c.authentication.anonymous.enabled, false);
  assert.equal(c.authorization.mode, 'Webhook');
  assert.deepEqual(c.clusterDNS, []);
  assert.equal(c.resolvConf, '');
  assert.equal(c.address, NETWORK.nodeIp);
  assert.equal(c.podLogsDir, '/state/pod-logs');
  assert.equal(c.localStorageCapacityIsolation, true);
});

test('kube-proxy leaves conntrack sysctls and route_localnet alone', () => {
  const c = parse(kubeProxyConfig(l));
  assert.equal(c.mode, 'iptables');
  assert.equal(c.conntrack.maxPerCore, 0);
  assert.equal(c.iptables.localhostNodePorts, false);
});

test('kube-router runs the firewall only', () => {
  const args = kubeRouterArgs(l);
  for (const flag of [
    '--run-firewall=true',
    '--run-router=false',
    '--run-service-proxy=false',
    '--enable-cni=false',
  ]) {
    assert.ok(args.includes(flag), flag);
  }
});

test('RuntimeClasses: gvisor → runsc, kata-qemu with a handler the node does not have', () => {
  const classes = RUNTIME_CLASSES.split('---').map((doc) => parse(doc));
  assert.deepEqual(
    classes.map((c) => [c.metadata.name, c.handler]),
    [
      ['gvisor', 'runsc'],
      ['kata-qemu', 'kata-qemu'],
    ],
  );
});
