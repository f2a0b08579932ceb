import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { KubeconfigError, loadKubeConnection } from './kubeconfig.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'closedpaw-kubeconfig-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}) {
  const path = join(dir, `config-${Math.random().toString(36).slice(2)}`);
  await writeFile(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'ctx',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', ...cluster } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    }),
  );
  return path;
}

async function optionsFor(path: string): Promise<RequestOptions> {
  const connection = loadKubeConnection({ KUBECONFIG: path });
  assert.ok(connection);
  const opts: RequestOptions = { headers: {} };
  await connection.applyToHTTPSOptions(opts);
  return opts;
}

test('client certificates and the CA come from inline data', async () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const path = await kubeconfig(
    { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') },
    { 'certificate-authority-data': b64('CA') },
  );
  const opts = await optionsFor(path);
  assert.equal(String(opts.ca), 'CA');
  assert.equal(String(opts.cert), 'CERT');
  assert.equal(String(opts.key), 'KEY');
  assert.equal(opts.rejectUnauthorized, undefined, 'TLS verification stays on');
  assert.equal(
    loadKubeConnection({ KUBECONFIG: path })?.getCurrentCluster()?.server,
    'https://127.0.0.1:6443',
  );
});

test('files are resolved relative to the kubeconfig; a token file is read', async () => {
  await writeFile(join(dir, 'ca.crt'), 'FILE-CA');
  await writeFile(join(dir, 'token'), 'secret-token\n');
  const path = await kubeconfig({ tokenFile: 'token' }, { 'certificate-authority': 'ca.crt' });
  const opts = await optionsFor(path);
  assert.equal(String(opts.ca), 'FILE-CA');
  assert.equal((opts.headers as Record<string, string>).Authorization, 'Bearer secret-token');
});

test('a bearer token and insecure-skip-tls-verify are honoured', async () => {
  const opts = await optionsFor(await kubeconfig({ token: 't0k' }, { 'insecure-skip-tls-verify': true }));
  assert.equal((opts.headers as Record<string, string>).Authorization, 'Bearer t0k');
  assert.equal(opts.rejectUnauthorized, false);
});

test('exec plugins and broken files are refused with a message that says what to fix', async () => {
  const exec = await kubeconfig({ exec: { command: 'aws' } });
  assert.throws(
    () => loadKubeConnection({ KUBECONFIG: exec }),
    (e: unknown) => e instanceof KubeconfigError && /exec or auth-provider plugin/.test(e.message),
  );
  const noServer = join(dir, 'bad');
  await writeFile(noServer, stringify({ clusters: [{ name: 'c', cluster: {} }], contexts: [] }));
  assert.throws(() => loadKubeConnection({ KUBECONFIG: noServer }), /clusters\.0\.cluster\.server/);
  assert.throws(() => loadKubeConnection({ KUBECONFIG: join(dir, 'missing') }), /cannot read kubeconfig/);
});
