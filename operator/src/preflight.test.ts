import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { loadConfig } from './config.ts';
import { PreflightError, preflight } from './preflight.ts';

/** A stand-in API server answering with a status per path (the real one is exercised in test/operator-process). */
const answers = new Map<string, { code: number; body: unknown }>();
const server = createServer((req, res) => {
  const path = (req.url ?? '').split('?')[0] ?? '';
  const answer = answers.get(`${req.method} ${path}`) ?? {
    code: 404,
    body: { kind: 'Status', code: 404, reason: 'NotFound', message: 'not found' },
  };
  res.writeHead(answer.code, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
});
let connection: Parameters<typeof preflight>[1];

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  connection = {
    getCurrentCluster: () => ({ server: `http://127.0.0.1:${port}` }),
    applyToHTTPSOptions: async () => {},
  };
});
after(() => server.close());

const config = (env: Record<string, string> = {}) => loadConfig({ CLOSEDPAW_AUDIT: 'off', ...env });
const status = (code: number, reason: string, message = reason) => ({
  code,
  body: { kind: 'Status', code, reason, message },
});

test('missing CRDs: a clear error saying what to apply', async () => {
  answers.clear();
  await assert.rejects(preflight(config(), connection), (error: Error) => {
    assert.ok(error instanceof PreflightError);
    assert.match(error.message, /CRDs are not installed .*kubectl apply -f crds\//);
    return true;
  });
});

test('a missing Lease namespace: a clear error naming it, instead of waiting for ever', async () => {
  answers.clear();
  answers.set('GET /apis/closedpaw.dev/v1alpha1', { code: 200, body: { kind: 'APIResourceList' } });
  answers.set(
    'POST /apis/coordination.k8s.io/v1/namespaces/nowhere/leases',
    status(404, 'NotFound', 'namespaces "nowhere" not found'),
  );
  await assert.rejects(
    preflight(config({ CLOSEDPAW_LEASE_NAMESPACE: 'nowhere' }), connection),
    /namespace nowhere for the leader Lease does not exist: kubectl create namespace nowhere/,
  );
});

test('no RBAC for the Lease: says so', async () => {
  answers.set(
    'POST /apis/coordination.k8s.io/v1/namespaces/locked/leases',
    status(403, 'Forbidden', 'leases is forbidden'),
  );
  await assert.rejects(
    preflight(config({ CLOSEDPAW_LEASE_NAMESPACE: 'locked' }), connection),
    /may not create its Lease in locked/,
  );
});

test('all there: passes (an existing Lease is fine too)', async () => {
  answers.set('POST /apis/coordination.k8s.io/v1/namespaces/ok/leases', { code: 201, body: {} });
  await preflight(config({ CLOSEDPAW_LEASE_NAMESPACE: 'ok' }), connection);
  answers.set('POST /apis/coordination.k8s.io/v1/namespaces/held/leases', status(409, 'AlreadyExists'));
  await preflight(config({ CLOSEDPAW_LEASE_NAMESPACE: 'held' }), connection);
  await preflight(config({ CLOSEDPAW_LEADER_ELECTION: 'false' }), connection);
});
