import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeApiServerArgs, withFlags } from '../../hack/node/flags.ts';
import { NETWORK } from '../../hack/node/layout.ts';
import { nodePkiPaths } from '../../hack/node/pki.ts';

const extend = (current: string | undefined) => [current, 'B'].filter(Boolean).join(',');
const cases: [string, string[], Parameters<typeof withFlags>[1], string[]][] = [
  ['extends a list flag', ['--p=A', '--q=1'], { p: extend }, ['--p=A,B', '--q=1']],
  ['a function for an absent flag gets undefined', ['--q=1'], { p: extend }, ['--q=1', '--p=B']],
  ['replaces by name', ['--a=1', '--b=2'], { a: '3' }, ['--a=3', '--b=2']],
  ['removes with null', ['--a=1', '--b=2'], { a: null }, ['--b=2']],
  ['appends new flags in order', ['--a=1'], { c: 'x', d: 'y' }, ['--a=1', '--c=x', '--d=y']],
  ['a null for an absent flag adds nothing', ['--a=1'], { z: null }, ['--a=1']],
];
for (const [name, args, changes, expected] of cases) {
  test(`withFlags ${name}`, () => assert.deepEqual(withFlags(args, changes), expected));
}

test('the node API server listens on the node IP, authorizes nodes and reaches kubelets by IP only', () => {
  const args = nodeApiServerArgs({ dir: '/s', etcdUrl: 'http://127.0.0.1:1' }, nodePkiPaths('/s/pki'));
  const flag = (name: string) => args.filter((a) => a.startsWith(`--${name}=`)).map((a) => a.split('=')[1]);
  assert.deepEqual(flag('bind-address'), [NETWORK.nodeIp]);
  assert.deepEqual(flag('advertise-address'), [NETWORK.nodeIp]);
  assert.deepEqual(flag('authorization-mode'), ['Node,RBAC']);
  assert.deepEqual(flag('kubelet-preferred-address-types'), ['InternalIP']);
  assert.deepEqual(flag('kubelet-certificate-authority'), ['/s/pki/ca.crt']);
  assert.deepEqual(flag('endpoint-reconciler-type'), ['lease']);
  assert.deepEqual(flag('tls-cert-file'), ['/s/pki/apiserver-node.crt']);
  assert.deepEqual(flag('allow-privileged'), ['false']);
  assert.ok(flag('enable-admission-plugins')[0]?.split(',').includes('NodeRestriction'));
  const names = args.map((a) => a.split('=')[0]);
  assert.equal(new Set(names).size, names.length, 'a flag appears twice');
});
