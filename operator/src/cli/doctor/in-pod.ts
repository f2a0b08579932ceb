/**
 * Checks made from inside the operator pod (one `exec` of the image's own node): what a sandbox pod's
 * gateway, Ollama and the UI look like from where they run, through whatever NetworkPolicies apply.
 * GET requests only, to loopback and to the configured Ollama URL; the audit log is verified with the
 * operator's own verifier and keys. Prints one JSON object.
 */
import { Writable } from 'node:stream';
import { Exec, type KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { MANAGEMENT_ENDPOINTS } from './judge.ts';

/** The script `node --input-type=module -e` runs in the operator container (cwd: the app, /app). */
export const IN_POD_SCRIPT = `
const env = process.env;
const out = { gateway: { refused: {} } };
const port = (addr, dflt) => Number((addr ?? dflt).split(':').pop());
const get = async (url) => {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(5000), redirect: 'manual' });
    return { status: r.status, body: (await r.text()).slice(0, 4000) };
  } catch (e) { return { error: String(e?.cause?.code ?? e?.message ?? e) }; }
};
const ops = port(env.CLOSEDPAW_HTTP_ADDR, '127.0.0.1:8080');
out.readyz = await get('http://127.0.0.1:' + ops + '/readyz');
if ((env.CLOSEDPAW_GATEWAY_ADDR ?? '') !== 'off') {
  const gw = port(env.CLOSEDPAW_GATEWAY_ADDR, '127.0.0.1:11435');
  out.gateway.version = await get('http://127.0.0.1:' + gw + '/api/version');
  for (const p of ${JSON.stringify(MANAGEMENT_ENDPOINTS)}) out.gateway.refused[p] = await get('http://127.0.0.1:' + gw + p);
}
out.ollama = await get((env.CLOSEDPAW_OLLAMA_URL ?? 'http://127.0.0.1:11434').replace(/\\/+$/, '') + '/api/tags');
const ui = env.CLOSEDPAW_UI_ADDR ?? '127.0.0.1:7780';
if (ui !== 'off') {
  const net = await import('node:net');
  const os = await import('node:os');
  const reach = (host, p) => new Promise((resolve) => {
    const s = net.connect({ host, port: p, timeout: 2000 });
    s.on('connect', () => { s.destroy(); resolve('open'); });
    s.on('error', (e) => resolve(e.code ?? 'error'));
    s.on('timeout', () => { s.destroy(); resolve('timeout'); });
  });
  const p = port(ui, ui);
  out.ui = { loopback: await reach('127.0.0.1', p), external: {} };
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) {
    if (!a.internal && a.family === 'IPv4') out.ui.external[a.address] = await reach(a.address, p);
  }
}
if ((env.CLOSEDPAW_AUDIT ?? 'on') === 'on') {
  try {
    const root = process.cwd() + '/dist/operator/src/';
    const { loadConfig } = await import(root + 'config.js');
    const { loadKeyring, verifyLog } = await import(root + 'audit/index.js');
    const audit = loadConfig(env).audit;
    const report = await verifyLog({ logPath: audit.logPath, keyring: await loadKeyring(audit.keysDir), checkpointDir: audit.checkpointDir });
    out.audit = report.ok
      ? { ok: true, records: report.records, signedSeq: report.signedSeq, local: report.local?.seq, external: report.external?.seq }
      : { ok: false, problem: '[' + report.problem.code + '] ' + report.problem.message };
  } catch (e) { out.audit = { skipped: 'could not verify in the pod: ' + String(e?.message ?? e).slice(0, 300) }; }
}
process.stdout.write(JSON.stringify(out));
`;

const http = z.object({
  status: z.number().optional(),
  body: z.string().optional(),
  error: z.string().optional(),
});

export const inPodReportSchema = z.object({
  readyz: http.optional(),
  gateway: z.object({ version: http.optional(), refused: z.record(z.string(), http) }),
  ollama: http.optional(),
  ui: z.object({ loopback: z.string(), external: z.record(z.string(), z.string()) }).optional(),
  audit: z
    .union([
      z.object({
        ok: z.literal(true),
        records: z.number(),
        signedSeq: z.number(),
        local: z.number().optional(),
        external: z.number().optional(),
      }),
      z.object({ ok: z.literal(false), problem: z.string() }),
      z.object({ skipped: z.string() }),
    ])
    .optional(),
});
export type InPodReport = z.infer<typeof inPodReportSchema>;

/** Parses the script's output; a Failure-free result: undefined and why. */
export function parseInPodReport(stdout: string): { report: InPodReport } | { problem: string } {
  try {
    const parsed = inPodReportSchema.safeParse(JSON.parse(stdout));
    return parsed.success
      ? { report: parsed.data }
      : { problem: `unexpected answer: ${parsed.error.issues[0]?.message}` };
  } catch {
    return { problem: `not JSON: ${stdout.slice(0, 200)}` };
  }
}

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _e: BufferEncoding, done: () => void) {
    if (this.text.length < 1024 * 1024) this.text += chunk.toString();
    done();
  }
}

/** Runs the script in the operator container; rejects on exec errors, resolves with its output. */
export async function runInPod(
  kc: KubeConfig,
  namespace: string,
  pod: string,
  container: string,
  timeoutMs: number,
): Promise<{ report: InPodReport } | { problem: string }> {
  const stdout = new Collect();
  const stderr = new Collect();
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000}s`)), timeoutMs);
  try {
    const ws = await new Exec(kc).exec(
      namespace,
      pod,
      container,
      ['node', '--input-type=module', '-e', IN_POD_SCRIPT],
      stdout,
      stderr,
      null,
      false,
      (status) =>
        status.status === 'Success'
          ? resolve()
          : reject(new Error(status.message ?? `exit: ${JSON.stringify(status.details)}`)),
    );
    ws.on('close', () => resolve());
    await promise;
  } catch (error) {
    return {
      problem: `${(error as Error).message}${stderr.text ? `: ${stderr.text.trim().slice(0, 300)}` : ''}`,
    };
  } finally {
    clearTimeout(timer);
  }
  return parseInPodReport(stdout.text);
}
