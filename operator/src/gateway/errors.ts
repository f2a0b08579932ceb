/**
 * The gateway's refusals: `{"error": "<what happened and what to do>", "code": "<code>"}` with the
 * status the contract (api/agent-protocol.ts) assigns to the code.
 */
import type { ServerResponse } from 'node:http';
import { GATEWAY_ERROR_CODES, type GatewayErrorCode } from '../api/agent-protocol.ts';

export type RefusalCode = GatewayErrorCode;

export interface Refusal {
  code: RefusalCode;
  message: string;
  /** Overrides the code's status (only `upstream_error`, which passes Ollama's status through). */
  status?: number;
}

export function refusal(code: RefusalCode, message: string): Refusal {
  return { code, message };
}

export function statusOf(r: Refusal): number {
  return r.status ?? GATEWAY_ERROR_CODES[r.code];
}

/** Writes a refusal as JSON and ends the response. Returns the body bytes written. */
export function sendRefusal(res: ServerResponse, r: Refusal): Buffer {
  const body = Buffer.from(JSON.stringify({ error: r.message, code: r.code }));
  if (res.headersSent) {
    res.destroy();
    return body;
  }
  res.writeHead(statusOf(r), {
    'content-type': 'application/json; charset=utf-8',
    'content-length': body.length,
    'cache-control': 'no-store',
  });
  res.end(body);
  return body;
}
