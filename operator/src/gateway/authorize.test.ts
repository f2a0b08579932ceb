import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TaskTokenClaims } from '../api/agent-protocol.ts';
import {
  authorizeCall,
  authorizeCaller,
  bearerToken,
  isRefusal,
  type Route,
  routeRequest,
  sameModel,
} from './authorize.ts';
import type { Refusal } from './errors.ts';

const claims: TaskTokenClaims = {
  iss: 'closedpaw-operator',
  aud: 'closedpaw-gateway',
  sub: 'team-a/fix-1',
  jti: 'abcdefgh12345678',
  iat: 1,
  exp: 2,
  task: { namespace: 'team-a', name: 'fix-1', uid: 'uid-1' },
  model: 'smollm2:135m',
  budget: { modelCalls: 3, tokens: 100, bytes: 10_000 },
};

const codeOf = (r: Route | Refusal | undefined) =>
  r === undefined ? 'allow' : isRefusal(r) ? r.code : r.kind;

describe('routeRequest', () => {
  const cases: Array<[string, string, string]> = [
    ['POST', '/api/chat', 'model'],
    ['POST', '/api/generate', 'model'],
    ['POST', '/api/embed', 'model'],
    ['POST', '/api/chat?stream=false', 'model'],
    ['GET', '/api/version', 'info'],
    ['HEAD', '/api/version', 'info'],
    // model endpoints take POST only
    ['GET', '/api/chat', 'forbidden_endpoint'],
    ['PUT', '/api/generate', 'forbidden_endpoint'],
    ['POST', '/api/version', 'forbidden_endpoint'],
    // management endpoints
    ['POST', '/api/pull', 'forbidden_endpoint'],
    ['POST', '/api/push', 'forbidden_endpoint'],
    ['POST', '/api/create', 'forbidden_endpoint'],
    ['POST', '/api/copy', 'forbidden_endpoint'],
    ['DELETE', '/api/delete', 'forbidden_endpoint'],
    ['POST', '/api/blobs/sha256:abc', 'forbidden_endpoint'],
    ['HEAD', '/api/blobs/sha256:abc', 'forbidden_endpoint'],
    ['GET', '/api/ps', 'forbidden_endpoint'],
    ['GET', '/api/tags', 'forbidden_endpoint'],
    ['POST', '/api/show', 'forbidden_endpoint'],
    ['POST', '/api/embeddings', 'forbidden_endpoint'],
    ['POST', '/v1/chat/completions', 'forbidden_endpoint'],
    ['GET', '/', 'forbidden_endpoint'],
    // spellings Ollama's router would decode, redirect or fold: never matched
    ['POST', '/api/chat/', 'forbidden_endpoint'],
    ['POST', '/api//chat', 'forbidden_endpoint'],
    ['POST', '//api/chat', 'forbidden_endpoint'],
    ['POST', '/api/%63hat', 'forbidden_endpoint'],
    ['POST', '/api%2Fchat', 'forbidden_endpoint'],
    ['POST', '/api/chat/../pull', 'forbidden_endpoint'],
    ['POST', '/api/pull/../chat', 'forbidden_endpoint'],
    ['POST', '/api/./chat', 'forbidden_endpoint'],
    ['POST', '/API/chat', 'forbidden_endpoint'],
    ['POST', '/api/Chat', 'forbidden_endpoint'],
    ['POST', '/api/chat%00', 'forbidden_endpoint'],
    ['POST', '/api/chat;x', 'forbidden_endpoint'],
    ['POST', '/api/chat#frag', 'forbidden_endpoint'],
    ['POST', 'http://ollama:11434/api/pull', 'forbidden_endpoint'],
    ['POST', 'http://gateway/api/chat', 'forbidden_endpoint'],
    ['POST', '*', 'forbidden_endpoint'],
    ['POST', '', 'forbidden_endpoint'],
  ];
  for (const [method, url, expected] of cases) {
    test(`${method} ${url || '(empty)'} → ${expected}`, () => {
      assert.equal(codeOf(routeRequest(method, url)), expected);
    });
  }

  test('names the endpoint and the forwarded path is the constant, never the client spelling', () => {
    const r = routeRequest('POST', '/api/pull');
    assert.ok(isRefusal(r));
    assert.match(r.message, /"\/api\/pull" is not allowed.*\/api\/chat/);
    const ok = routeRequest('POST', '/api/chat?x=/api/pull');
    assert.deepEqual(ok, { kind: 'model', endpoint: '/api/chat' });
  });
});

describe('bearerToken', () => {
  const cases: Array<[string | undefined, string | undefined]> = [
    ['Bearer a.b.c', 'a.b.c'],
    ['bearer a.b-c_d', 'a.b-c_d'],
    [undefined, undefined],
    ['', undefined],
    ['Basic dXNlcjpwYXNz', undefined],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    ['Bearer a.b.c\r\nX: y', undefined],
  ];
  for (const [header, token] of cases) {
    test(`${JSON.stringify(header)} → ${token}`, () => assert.equal(bearerToken(header), token));
  }
});

describe('authorizeCaller', () => {
  const cases: Array<
    [string, Parameters<typeof authorizeCaller>[0], Parameters<typeof authorizeCaller>[1], string, RegExp?]
  > = [
    ['valid token, active task', { claims }, 'active', 'allow'],
    ['no token', { missing: true }, undefined, 'unauthenticated', /Authorization: Bearer/],
    ['bad token', { error: 'token expired' }, undefined, 'unauthenticated', /token expired/],
    ['finished task', { claims }, 'finished', 'task_finished', /team-a\/fix-1.*finished/],
    ['unknown task (deleted, other uid)', { claims }, 'unknown', 'task_finished', /not running/],
    ['no state at all', { claims }, undefined, 'task_finished'],
  ];
  for (const [name, auth, state, expected, message] of cases) {
    test(`${name} → ${expected}`, () => {
      const r = authorizeCaller(auth, state);
      assert.equal(codeOf(r), expected);
      if (message) assert.match(r?.message ?? '', message);
    });
  }
});

describe('sameModel', () => {
  const cases: Array<[string, string, boolean]> = [
    ['smollm2:135m', 'smollm2:135m', true],
    ['llama3', 'llama3:latest', true],
    ['llama3:latest', 'llama3', true],
    ['llama3', 'llama3', true],
    ['smollm2:135m', 'smollm2:360m', false],
    ['smollm2', 'smollm2:135m', false],
    ['SmolLM2:135m', 'smollm2:135m', false],
    ['library/smollm2:135m', 'smollm2:135m', false],
    ['registry.ollama.ai/library/llama3', 'llama3', false],
    ['host:5000/llama3', 'host:5000/llama3:latest', true],
    ['host:5000/llama3', 'llama3', false],
    ['llama3:', 'llama3', false],
    ['smollm2:135m ', 'smollm2:135m', false],
  ];
  for (const [requested, allowed, same] of cases) {
    test(`${requested} vs ${allowed} → ${same}`, () => assert.equal(sameModel(requested, allowed), same));
  }
});

describe('authorizeCall', () => {
  const usage = { modelCalls: 0, tokens: 0, bytes: 0, inFlight: 0 };
  const base = {
    claims,
    model: 'smollm2:135m',
    requestBytes: 100,
    usage,
    budget: claims.budget,
    maxInFlight: 2,
  };
  const cases: Array<[string, Partial<Parameters<typeof authorizeCall>[0]>, string, RegExp?]> = [
    ['the token model', {}, 'allow'],
    ['another model', { model: 'llama3:70b' }, 'model_not_allowed', /"llama3:70b".*only "smollm2:135m"/],
    ['a stopped run', { stopped: 'tool output flagged: x' }, 'tool_output_flagged', /flagged: x/],
    [
      'calls used up',
      { usage: { ...usage, modelCalls: 3 } },
      'budget_exceeded',
      /model call budget exhausted: 3 of 3 calls/,
    ],
    [
      'tokens used up',
      { usage: { ...usage, tokens: 140 } },
      'budget_exceeded',
      /token budget exhausted: 140 of 100/,
    ],
    ['tokens almost used up', { usage: { ...usage, tokens: 99 } }, 'allow'],
    [
      'this request would pass the byte limit',
      { usage: { ...usage, bytes: 9_950 } },
      'budget_exceeded',
      /byte budget exceeded: 9950 bytes used \+ 100 in this request > limit 10000/,
    ],
    ['exactly at the byte limit', { usage: { ...usage, bytes: 9_900 } }, 'allow'],
    ['one call in flight', { usage: { ...usage, modelCalls: 1, inFlight: 1 } }, 'allow'],
    [
      'too many calls in flight',
      { usage: { ...usage, modelCalls: 2, inFlight: 2 } },
      'budget_exceeded',
      /concurrency limit: 2 calls .* \(at most 2\)/,
    ],
    [
      'other model is refused before budget',
      { model: 'x', usage: { ...usage, modelCalls: 9 } },
      'model_not_allowed',
    ],
  ];
  for (const [name, over, expected, message] of cases) {
    test(`${name} → ${expected}`, () => {
      const r = authorizeCall({ ...base, ...over });
      assert.equal(codeOf(r), expected);
      if (message) assert.match(r?.message ?? '', message);
    });
  }
});
