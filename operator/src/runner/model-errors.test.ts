import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunnerFailureReason } from '../api/agent-protocol.ts';
import { ConnectionError, classifyModelError, GatewayHttpError, ReplyTooLargeError } from './model-errors.ts';

test('model and gateway errors map to failure reasons, with one retry only where it can help', () => {
  const cases: [string, unknown, RunnerFailureReason, boolean][] = [
    ['budget spent', new GatewayHttpError(429, 'budget_exceeded', 'no'), 'BudgetExceeded', false],
    [
      'tool output flagged',
      new GatewayHttpError(403, 'tool_output_flagged', 'no'),
      'ToolOutputFlagged',
      false,
    ],
    ['bad token', new GatewayHttpError(401, 'unauthenticated', 'no'), 'GatewayRefused', false],
    ['endpoint forbidden', new GatewayHttpError(403, 'forbidden_endpoint', 'no'), 'GatewayRefused', false],
    ['task finished', new GatewayHttpError(403, 'task_finished', 'no'), 'GatewayRefused', false],
    ['model not allowed', new GatewayHttpError(403, 'model_not_allowed', 'no'), 'GatewayRefused', false],
    ['bad request', new GatewayHttpError(400, 'bad_request', 'no'), 'ModelError', false],
    ['too large', new GatewayHttpError(413, 'too_large', 'no'), 'ModelError', false],
    [
      'upstream unreachable',
      new GatewayHttpError(502, 'upstream_unreachable', 'no'),
      'ModelUnreachable',
      true,
    ],
    ['upstream error', new GatewayHttpError(502, 'upstream_error', 'no'), 'ModelError', true],
    ['plain 401', new GatewayHttpError(401, undefined, 'no'), 'GatewayRefused', false],
    ['plain 403', new GatewayHttpError(403, undefined, 'no'), 'GatewayRefused', false],
    [
      'Ollama: model not found',
      new GatewayHttpError(404, undefined, "model 'x' not found"),
      'ModelError',
      false,
    ],
    ['plain 500', new GatewayHttpError(500, undefined, 'no'), 'ModelError', true],
    ['plain 503 (busy)', new GatewayHttpError(503, undefined, 'no'), 'ModelError', true],
    ['connection refused', new ConnectionError('refused', 'ECONNREFUSED'), 'ModelUnreachable', true],
    ['reply too large', new ReplyTooLargeError(10), 'ModelError', false],
    ['error in the stream', new Error('llama runner process has terminated'), 'ModelError', true],
    ['not an Error at all', 'weird', 'ModelError', true],
  ];
  for (const [name, error, reason, retry] of cases) {
    const verdict = classifyModelError(error);
    assert.deepEqual([verdict.reason, verdict.retry], [reason, retry], name);
    assert.ok(verdict.message.length > 0);
  }
});

test('the gateway message and code reach the failure message', () => {
  const verdict = classifyModelError(new GatewayHttpError(429, 'budget_exceeded', 'token budget 1000 spent'));
  assert.match(verdict.message, /HTTP 429 budget_exceeded: token budget 1000 spent/);
});

test('an error body is parsed as the gateway contract, as Ollama\'s {"error"}, or kept as text', async () => {
  const cases: [string, string, number, string | undefined, string][] = [
    ['gateway', '{"error":"spent","code":"budget_exceeded"}', 429, 'budget_exceeded', 'spent'],
    ['gateway, unknown code', '{"error":"hm","code":"new_code"}', 403, undefined, 'hm'],
    ['ollama', '{"error":"model \'m\' not found"}', 404, undefined, "model 'm' not found"],
    ['text', '404 page not found', 404, undefined, '404 page not found'],
    ['empty', '', 502, undefined, 'Bad Gateway'],
  ];
  for (const [name, body, status, code, message] of cases) {
    const response = new Response(body, { status, statusText: status === 502 ? 'Bad Gateway' : '' });
    const error = await GatewayHttpError.from(response, 1024);
    assert.deepEqual([error.status, error.code, error.message], [status, code, message], name);
  }
});

test('an error body is read only up to the cap', async () => {
  const error = await GatewayHttpError.from(new Response('x'.repeat(100_000), { status: 500 }), 100);
  assert.ok(error.message.length <= 100);
});
