// `helm test`: checks an installed ClosedPaw from inside the cluster, one line per check, exit 1 on any failure.
//   gateway-version    the model gateway answers GET /api/version with a version
//   gateway-pull       it refuses POST /api/pull (403 forbidden_endpoint): pods cannot make Ollama download
//   gateway-token      it refuses POST /api/chat without a task token (401 unauthenticated)
//   operator-ready     the operator's /readyz is 200 (informers synced, audit log writable, leader elected)
//   operator-metrics   /metrics carries the operator's closedpaw_* series
//   ollama-isolated    (CLOSEDPAW_TEST_OLLAMA_ADDR set) Ollama itself is unreachable from this pod: only the
//                      gateway may call it
// Addresses come from the environment (the chart fills them from the Services' link variables).
import { connect } from 'node:net';

const env = process.env;
const TIMEOUT_MS = Number(env.CLOSEDPAW_TEST_TIMEOUT_MS || 5000);

function need(name) {
  const value = env[name];
  if (!value || value.includes('$(')) throw new Error(`${name} is not set (got ${JSON.stringify(value)})`);
  return value.replace(/\/+$/, '');
}

async function call(url, init = {}) {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json };
}

function expectStatus(got, status, code) {
  if (got.status !== status || (code && got.json?.code !== code)) {
    throw new Error(
      `expected ${status}${code ? ` ${code}` : ''}, got ${got.status} ${got.text.slice(0, 200)}`,
    );
  }
}

/** Resolves 'refused' or 'timeout' when nothing answers, rejects when a connection is made. */
function unreachable(address) {
  const at = address.lastIndexOf(':');
  const [host, port] = [address.slice(0, at), Number(address.slice(at + 1))];
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const done = (outcome) => {
      socket.destroy();
      outcome === 'connected' ? reject(new Error(`connected to ${address}`)) : resolve(outcome);
    };
    socket.setTimeout(TIMEOUT_MS, () => done('timeout'));
    socket.once('connect', () => done('connected'));
    socket.once('error', () => done('refused'));
  });
}

const json = { 'content-type': 'application/json' };
const checks = [
  [
    'gateway-version',
    async () => {
      const got = await call(`${need('CLOSEDPAW_TEST_GATEWAY_URL')}/api/version`);
      expectStatus(got, 200);
      if (typeof got.json?.version !== 'string') throw new Error(`no version in ${got.text.slice(0, 200)}`);
      return got.json.version;
    },
  ],
  [
    'gateway-pull',
    async () => {
      const body = JSON.stringify({ model: 'any' });
      expectStatus(
        await call(`${need('CLOSEDPAW_TEST_GATEWAY_URL')}/api/pull`, { method: 'POST', headers: json, body }),
        403,
        'forbidden_endpoint',
      );
    },
  ],
  [
    'gateway-token',
    async () => {
      const body = JSON.stringify({ model: 'any', messages: [{ role: 'user', content: 'hi' }] });
      expectStatus(
        await call(`${need('CLOSEDPAW_TEST_GATEWAY_URL')}/api/chat`, { method: 'POST', headers: json, body }),
        401,
        'unauthenticated',
      );
    },
  ],
  [
    'operator-ready',
    async () => expectStatus(await call(`${need('CLOSEDPAW_TEST_METRICS_URL')}/readyz`), 200),
  ],
  [
    'operator-metrics',
    async () => {
      const got = await call(`${need('CLOSEDPAW_TEST_METRICS_URL')}/metrics`);
      expectStatus(got, 200);
      if (!/^closedpaw_\w+/m.test(got.text)) throw new Error('no closedpaw_* series in /metrics');
    },
  ],
];
if (env.CLOSEDPAW_TEST_OLLAMA_ADDR) {
  checks.push(['ollama-isolated', async () => await unreachable(need('CLOSEDPAW_TEST_OLLAMA_ADDR'))]);
}

let failed = 0;
for (const [name, check] of checks) {
  try {
    const detail = await check();
    console.log(`ok ${name}${detail ? ` (${detail})` : ''}`);
  } catch (error) {
    failed++;
    console.log(`FAIL ${name}: ${error.message}`);
  }
}
console.log(failed ? `${failed} of ${checks.length} checks failed` : `all ${checks.length} checks passed`);
process.exitCode = failed ? 1 : 0;
