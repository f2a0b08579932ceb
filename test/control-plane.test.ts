/** The control plane built in hack/ is the real, pinned thing, and the tools users need are there. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { kubectl } from './support/kube.ts';

const HACK = join(import.meta.dirname, '../hack');

test('kube-apiserver and kubectl report the pinned release, not v0.0.0', async () => {
  const pinned = /k8s\.io\/kubernetes (v\S+)/.exec(await readFile(join(HACK, 'kube/go.mod'), 'utf8'))?.[1];
  assert.ok(pinned);
  const result = await kubectl(['version', '-o', 'json']);
  assert.equal(result.code, 0, result.stderr);
  const versions = JSON.parse(result.stdout);
  assert.equal(versions.serverVersion.gitVersion, pinned);
  assert.equal(versions.clientVersion.gitVersion, pinned);
  assert.equal(versions.serverVersion.gitTreeState, 'clean');
});

test('helm is there and runs', async () => {
  const { stdout } = await promisify(execFile)(join(HACK, 'bin/helm'), ['version', '--short']);
  assert.match(stdout, /^v3\.\d+\.\d+/);
});

test('the admission plugins the security model relies on are on', async () => {
  const result = await kubectl(['get', '--raw', '/apis/admissionregistration.k8s.io/v1']);
  assert.match(result.stdout, /validatingadmissionpolicies/);
  const policies = await kubectl([
    'get',
    'validatingadmissionpolicy',
    'closedpaw-approval-decisions',
    '-o',
    'name',
  ]);
  assert.equal(
    policies.stdout.trim(),
    'validatingadmissionpolicy.admissionregistration.k8s.io/closedpaw-approval-decisions',
  );
});
