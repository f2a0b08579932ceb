/**
 * What can go wrong talking to the model, and what each means for the run.
 * Gateway refusals arrive as HTTP status + `{"error","code"}`; they end the
 * run at once. Lost connections and server errors get one retry first.
 */
import {
  type GatewayErrorCode,
  gatewayErrorSchema,
  type RunnerFailureReason,
} from '../api/agent-protocol.ts';

/** The gateway could not be reached, or the connection broke mid-reply. */
export class ConnectionError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.name = 'ConnectionError';
    this.code = code;
  }
}

/** A non-2xx answer from the gateway (or from Ollama directly, which sends `{"error"}` only). */
export class GatewayHttpError extends Error {
  readonly status: number;
  readonly code: GatewayErrorCode | undefined;
  constructor(status: number, code: GatewayErrorCode | undefined, detail: string) {
    super(detail);
    this.name = 'GatewayHttpError';
    this.status = status;
    this.code = code;
  }

  /** Reads (a bounded part of) the error body. */
  static async from(response: Response, maxBytes: number): Promise<GatewayHttpError> {
    const text = await readBounded(response, maxBytes);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return new GatewayHttpError(
        response.status,
        undefined,
        text.trim().slice(0, 500) || response.statusText,
      );
    }
    const coded = gatewayErrorSchema.safeParse(json);
    if (coded.success)
      return new GatewayHttpError(response.status, coded.data.code, coded.data.error.slice(0, 500));
    const error = (json as { error?: unknown })?.error;
    return new GatewayHttpError(
      response.status,
      undefined,
      typeof error === 'string' ? error.slice(0, 500) : text.slice(0, 500),
    );
  }
}

/** The model's reply was larger than the runner accepts. */
export class ReplyTooLargeError extends Error {
  constructor(maxBytes: number) {
    super(`the model's reply exceeded ${maxBytes} bytes`);
    this.name = 'ReplyTooLargeError';
  }
}

export interface ModelErrorVerdict {
  reason: RunnerFailureReason;
  /** Worth one more try. */
  retry: boolean;
  message: string;
}

const REFUSED: ReadonlySet<GatewayErrorCode> = new Set([
  'unauthenticated',
  'forbidden_endpoint',
  'task_finished',
  'model_not_allowed',
]);

export function classifyModelError(error: unknown): ModelErrorVerdict {
  if (error instanceof GatewayHttpError) return classifyHttp(error);
  if (error instanceof ConnectionError) {
    return {
      reason: 'ModelUnreachable',
      retry: true,
      message: `cannot reach the model gateway: ${error.message}`,
    };
  }
  if (error instanceof ReplyTooLargeError)
    return { reason: 'ModelError', retry: false, message: error.message };
  const text = error instanceof Error ? error.message : String(error);
  return { reason: 'ModelError', retry: true, message: `the model call failed: ${text.slice(0, 500)}` };
}

function classifyHttp(error: GatewayHttpError): ModelErrorVerdict {
  const what = `HTTP ${error.status}${error.code ? ` ${error.code}` : ''}: ${error.message}`;
  switch (error.code) {
    case 'budget_exceeded':
      return {
        reason: 'BudgetExceeded',
        retry: false,
        message: `the task's model budget is spent (${what})`,
      };
    case 'tool_output_flagged':
      return {
        reason: 'ToolOutputFlagged',
        retry: false,
        message: `the gateway flagged tool output sent to the model (${what})`,
      };
    case 'upstream_unreachable':
      return {
        reason: 'ModelUnreachable',
        retry: true,
        message: `the gateway cannot reach the model (${what})`,
      };
    case 'upstream_error':
      return { reason: 'ModelError', retry: true, message: `the model failed (${what})` };
    case undefined:
      break;
    default:
      if (REFUSED.has(error.code)) {
        return {
          reason: 'GatewayRefused',
          retry: false,
          message: `the model gateway refused the call (${what})`,
        };
      }
      return { reason: 'ModelError', retry: false, message: `the model gateway rejected the call (${what})` };
  }
  if (error.status === 401 || error.status === 403) {
    return {
      reason: 'GatewayRefused',
      retry: false,
      message: `the model gateway refused the call (${what})`,
    };
  }
  if (error.status >= 500)
    return { reason: 'ModelError', retry: true, message: `the model failed (${what})` };
  return { reason: 'ModelError', retry: false, message: `the model rejected the call (${what})` };
}

async function readBounded(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size <= maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // a broken error body still tells the status
  } finally {
    reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
}
