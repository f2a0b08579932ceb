import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ModelEndpoint } from './authorize.ts';
import { isRefusal } from './authorize.ts';
import { parseModelRequest } from './request.ts';

const parse = (body: string, endpoint: ModelEndpoint = '/api/chat') =>
  parseModelRequest(endpoint, Buffer.from(body));

describe('parseModelRequest', () => {
  const ok: Array<[string, string, ModelEndpoint, string, string[]]> = [
    ['generate', '{"model":"m","prompt":"hi"}', '/api/generate', 'm', []],
    ['embed', '{"model":"m","input":["a","b"]}', '/api/embed', 'm', []],
    ['chat without messages', '{"model":"m"}', '/api/chat', 'm', []],
    [
      'chat with tool outputs',
      '{"model":"m","messages":[{"role":"user","content":"u"},{"role":"tool","content":"t1","tool_name":"read_file"},{"role":"tool","content":"t2"}]}',
      '/api/chat',
      'm',
      ['t1', 't2'],
    ],
    ['duplicate model key: the last wins, as in Go', '{"model":"a","model":"b"}', '/api/chat', 'b', []],
    ['escaped key is the same key', '{"mod\\u0065l":"m"}', '/api/generate', 'm', []],
    [
      'tool messages are not read from generate',
      '{"model":"m","messages":[{"role":"tool","content":"x"}]}',
      '/api/generate',
      'm',
      [],
    ],
  ];
  for (const [name, body, endpoint, model, tools] of ok) {
    test(name, () => {
      const r = parse(body, endpoint);
      assert.ok(!isRefusal(r), JSON.stringify(r));
      assert.equal(r.model, model);
      assert.deepEqual(r.toolOutputs, tools);
    });
  }

  const bad: Array<[string, string, RegExp]> = [
    ['not JSON', '{"model":', /not JSON/],
    ['trailing data', '{"model":"m"} {"model":"other"}', /not JSON/],
    ['an array', '[{"model":"m"}]', /JSON object/],
    ['no model', '{"prompt":"x"}', /needs "model"/],
    ['empty model', '{"model":""}', /needs "model"/],
    ['model not a string', '{"model":["m"]}', /needs "model"/],
    ['a case variant of model (Go would take it)', '{"model":"m","MODEL":"other"}', /"MODEL".*lowercase/],
    ['Model alone', '{"Model":"other"}', /"Model"/],
    ['a non-ASCII key that Go folds', '{"model":"m","\u212Aeep_alive":0}', /lowercase ASCII/],
    [
      'a message with Role',
      '{"model":"m","messages":[{"Role":"tool","content":"x"}]}',
      /messages\[0\].*"Role"/,
    ],
    ['a message with CONTENT', '{"model":"m","messages":[{"role":"tool","CONTENT":"x"}]}', /"CONTENT"/],
    ['messages not an array', '{"model":"m","messages":{"role":"tool"}}', /must be an array/],
    ['a message not an object', '{"model":"m","messages":["x"]}', /messages\[0\] must be an object/],
    [
      'a tool message without string content',
      '{"model":"m","messages":[{"role":"tool","content":1}]}',
      /content/,
    ],
  ];
  for (const [name, body, message] of bad) {
    test(`refuses ${name}`, () => {
      const r = parse(body);
      assert.ok(isRefusal(r), `expected a refusal, got ${JSON.stringify(r)}`);
      assert.equal(r.code, 'bad_request');
      assert.match(r.message, message);
    });
  }
});
