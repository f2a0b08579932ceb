/**
 * The operations listener: /metrics (Prometheus), /healthz and /readyz. Nothing else lives here. Plain
 * node:http: three GET routes do not need a framework, and the operator then loads fastify only when the
 * approval UI runs.
 */
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { http } from '../node-http.ts';

export interface Probe {
  ok: boolean;
  detail: string;
}

export interface OpsServerOptions {
  registry: Registry;
  healthz: () => Probe;
  readyz: () => Probe;
}

export interface OpsServer {
  /** Resolves with the port it listens on (useful with port 0). */
  listen(host: string, port: number): Promise<number>;
  close(): Promise<void>;
  readonly server: Server;
}

async function respond(opts: OpsServerOptions, method: string, path: string) {
  if (method !== 'GET' && method !== 'HEAD')
    return { status: 405, type: 'text/plain', body: 'method not allowed\n' };
  if (path === '/metrics')
    return { status: 200, type: opts.registry.contentType, body: await opts.registry.metrics() };
  const probe = path === '/healthz' ? opts.healthz : path === '/readyz' ? opts.readyz : undefined;
  if (!probe) return { status: 404, type: 'text/plain', body: 'not found\n' };
  const result = probe();
  return {
    status: result.ok ? 200 : 503,
    type: 'text/plain',
    body: `${result.ok ? 'ok' : 'not ok'}: ${result.detail}\n`,
  };
}

export function createOpsServer(opts: OpsServerOptions): OpsServer {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    respond(opts, req.method ?? 'GET', path).then(
      ({ status, type, body }) => {
        res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`error: ${(error as Error).message}\n`);
      },
    );
  });
  return {
    server,
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          const address = server.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
