/** The operations listener: /metrics (Prometheus), /healthz and /readyz. Nothing else lives here. */
import fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface Probe {
  ok: boolean;
  detail: string;
}

export interface OpsServerOptions {
  registry: Registry;
  healthz: () => Probe;
  readyz: () => Probe;
}

export function createOpsServer(opts: OpsServerOptions): FastifyInstance {
  const app = fastify({ logger: false });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', opts.registry.contentType);
    return await opts.registry.metrics();
  });
  for (const [path, probe] of [
    ['/healthz', opts.healthz],
    ['/readyz', opts.readyz],
  ] as const) {
    app.get(path, async (_req, reply) => {
      const result = probe();
      reply.code(result.ok ? 200 : 503).header('content-type', 'text/plain');
      return `${result.ok ? 'ok' : 'not ok'}: ${result.detail}\n`;
    });
  }
  return app;
}
