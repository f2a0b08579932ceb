// Model gateway benchmark: the same chat request N times straight to the upstream and N times through
// the gateway (token check, task state, budget, audit to a real sealed store, streaming proxy),
// interleaved in one run so both see the same machine load. Overhead = difference of the medians
// (and of the p99s), and the same with the model's own reported compute time taken out. Measured twice:
// against the real Ollama with smollm2:135m (OLLAMA_HOST, else one started here from hack/ollama), and against
// a scripted Ollama, whose metric names end in `_scripted` (no model noise: the gateway's own cost).
// Run: node test/bench/gateway.bench.ts
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ensureOllamaBuilt, type RunningOllama, startOllama } from '../../hack/ollama/server.ts';
import { generateKey, loadKeyring, openAuditSink } from '../../operator/src/audit/index.ts';
import { createGateway } from '../../operator/src/gateway/gateway.ts';
import {
  createTokenVerifier,
  generateGatewayKey,
  issueTaskToken,
} from '../../operator/src/gateway/tokens.ts';
import { ScriptedOllama } from '../support/scripted-ollama.ts';
import { percentile, report } from './report.ts';

const MODEL = 'smollm2:135m';

function upstreamUrl(host: string): string {
  const withScheme = host.includes('://') ? host : `http://${host}`;
  return new URL(withScheme).origin;
}

async function measure(upstream: string, suffix: string, requests: number, warmup: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'closedpaw-gateway-bench-'));
  const kind = suffix ? 'a scripted Ollama' : 'the real Ollama';
  process.stderr.write(`# gateway bench: ${requests} requests each way, upstream ${kind} at ${upstream}\n`);
  await generateKey(join(dir, 'keys'), { kid: 'bench' });
  const sink = await openAuditSink({
    logPath: join(dir, 'audit.log'),
    keyring: await loadKeyring(join(dir, 'keys')),
  });
  const key = await generateGatewayKey();
  const task = { namespace: 'bench', name: 'gateway', uid: '00000000-0000-4000-8000-000000000001' };
  const budget = { modelCalls: 1_000_000, tokens: 1_000_000_000, bytes: 1_000_000_000 };
  const token = await issueTaskToken(key, task, { model: MODEL, budget, timeoutSeconds: 3600 });
  const gateway = createGateway({
    upstream,
    verifier: await createTokenVerifier(key.publicKey),
    taskState: () => 'active',
    audit: sink,
    logger: { info() {}, warn() {}, error() {} },
  });
  const { port } = await gateway.listen('127.0.0.1', 0);
  const via = `http://127.0.0.1:${port}`;

  const body = JSON.stringify({
    model: MODEL,
    messages: [{ role: 'user', content: 'Say hello.' }],
    stream: true,
    options: { temperature: 0, seed: 1, num_predict: 8 },
  });
  /** Wall time of one call, and that minus the upstream's own total_duration (the model's compute). */
  async function timed(base: string, auth: boolean): Promise<{ wall: number; outside: number }> {
    const start = performance.now();
    const res = await fetch(`${base}/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${token}` } : {}) },
      body,
    });
    const text = await res.text();
    const wall = performance.now() - start;
    if (res.status !== 200 || !text.includes('"done":true')) {
      throw new Error(`bench request failed: ${res.status} ${text.slice(0, 200)}`);
    }
    const final = JSON.parse(text.trim().split('\n').at(-1) ?? '{}') as { total_duration?: number };
    return { wall, outside: wall - (final.total_duration ?? 0) / 1e6 };
  }

  for (let i = 0; i < warmup; i++) {
    await timed(upstream, false);
    await timed(via, true);
  }
  const direct: Array<{ wall: number; outside: number }> = [];
  const gated: Array<{ wall: number; outside: number }> = [];
  for (let i = 0; i < requests; i++) {
    // Alternate which goes first so neither always runs right after the other.
    if (i % 2 === 0) {
      direct.push(await timed(upstream, false));
      gated.push(await timed(via, true));
    } else {
      gated.push(await timed(via, true));
      direct.push(await timed(upstream, false));
    }
  }
  await sink.flush();

  const wall = (xs: typeof direct) => xs.map((x) => x.wall);
  const outside = (xs: typeof direct) => xs.map((x) => x.outside);
  const p50Direct = percentile(wall(direct), 50);
  const p50Gated = percentile(wall(gated), 50);
  report(`gateway_overhead_ms_p50${suffix}`, p50Gated - p50Direct, 'ms');
  report(
    `gateway_overhead_ms_p99${suffix}`,
    percentile(wall(gated), 99) - percentile(wall(direct), 99),
    'ms',
  );
  report(`gateway_overhead_ratio_p50${suffix}`, p50Gated / p50Direct, 'ratio');
  // The model's own compute time varies far more than the gateway costs on a busy machine: the same
  // difference with each call's upstream-reported total_duration taken out.
  report(
    `gateway_overhead_excl_model_ms_p50${suffix}`,
    percentile(outside(gated), 50) - percentile(outside(direct), 50),
    'ms',
  );
  report(`gateway_direct_ms_p50${suffix}`, p50Direct, 'ms');
  report(`gateway_via_ms_p50${suffix}`, p50Gated, 'ms');
  await gateway.close();
  await sink.close();
  await rm(dir, { recursive: true, force: true });
}

const scripted = await ScriptedOllama.start({
  models: [MODEL],
  fallback: () => ({ type: 'text', content: 'Hello! How can I help you today?', chunks: 8 }),
});
let started: { ollama: RunningOllama; dir: string } | undefined;
try {
  await measure(scripted.url, '_scripted', 400, 20);
  let real = process.env.OLLAMA_HOST;
  if (!real) {
    const dir = await mkdtemp(join(tmpdir(), 'closedpaw-gateway-bench-ollama-'));
    started = { ollama: await startOllama(dir, { artifacts: await ensureOllamaBuilt() }), dir };
    real = started.ollama.url;
  }
  await measure(upstreamUrl(real), '', 40, 3);
} finally {
  await scripted.stop();
  if (started) {
    await started.ollama.stop();
    await rm(started.dir, { recursive: true, force: true });
  }
}
