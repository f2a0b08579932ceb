/**
 * What the gateway reads from a model request body before forwarding the exact bytes: the model and,
 * for chat, the tool outputs to screen.
 *
 * Ollama (Go, encoding/json) matches JSON keys case-insensitively: `{"model":"a","MODEL":"b"}` is model
 * "b" to Ollama, "a" to JSON.parse, and `{"Role":"tool"}` is a tool message Ollama sees and a naive
 * check misses. So keys of the request object and of each message must be lowercase ASCII (all of
 * Ollama's are); with that, both parsers read the same fields (duplicates: the last one wins in both).
 */
import type { ModelEndpoint } from './authorize.ts';
import { type Refusal, refusal } from './errors.ts';

export interface ModelRequest {
  model: string;
  /** Contents of `role: "tool"` messages (chat only), in order. */
  toolOutputs: string[];
  /** The whole body as parsed, so a cloud call translates it without parsing it again. */
  body: Record<string, unknown>;
}

const LOWERCASE_KEY = /^[a-z][a-z0-9_]*$/;

export function parseModelRequest(endpoint: ModelEndpoint, body: Buffer): ModelRequest | Refusal {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    return refusal('bad_request', `request body is not JSON: ${(err as Error).message.slice(0, 200)}`);
  }
  if (!isObject(value)) return refusal('bad_request', 'request body must be a JSON object');
  const badKey = firstBadKey(value);
  if (badKey !== undefined) return badKeyRefusal(badKey, 'request');
  const { model } = value;
  if (typeof model !== 'string' || model.length === 0) {
    return refusal('bad_request', 'request needs "model": the model named in the task token');
  }
  if (endpoint !== '/api/chat') return { model, toolOutputs: [], body: value };
  const { messages } = value;
  if (messages === undefined) return { model, toolOutputs: [], body: value };
  if (!Array.isArray(messages)) return refusal('bad_request', '"messages" must be an array');
  const toolOutputs: string[] = [];
  for (const [i, message] of messages.entries()) {
    if (!isObject(message)) return refusal('bad_request', `messages[${i}] must be an object`);
    const key = firstBadKey(message);
    if (key !== undefined) return badKeyRefusal(key, `messages[${i}]`);
    if (message.role !== 'tool') continue;
    if (typeof message.content !== 'string') {
      return refusal('bad_request', `messages[${i}] (role tool) needs "content" as a string`);
    }
    toolOutputs.push(message.content);
  }
  return { model, toolOutputs, body: value };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function firstBadKey(obj: Record<string, unknown>): string | undefined {
  return Object.keys(obj).find((k) => !LOWERCASE_KEY.test(k));
}

function badKeyRefusal(key: string, where: string): Refusal {
  return refusal(
    'bad_request',
    `${where} has key ${JSON.stringify(key.slice(0, 64))}: keys must be lowercase ASCII (Ollama matches keys case-insensitively)`,
  );
}
