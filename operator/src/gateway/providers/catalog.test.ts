import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type CloudEnv, cloudModelRisk, findCloudModel, parseCloudSettings } from './catalog.ts';
import { costMicroUsd, planCloudCall, usd } from './cost.ts';

const ENV: CloudEnv = {
  CLOSEDPAW_CLOUD_MODELS: 'openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest,local/llama3:8b',
  CLOSEDPAW_CLOUD_PRICES:
    'openai/gpt-4o-mini=0.15/0.60,anthropic/claude-3-5-haiku-latest=0.8/4,local/llama3:8b=0/0',
  CLOSEDPAW_CLOUD_PROVIDERS: 'local=openai,http://127.0.0.1:8000/v1/,local-key',
  CLOSEDPAW_CLOUD_MAX_COST_USD: '0.25',
};

describe('cloud settings', () => {
  test('off unless models are listed', () => {
    assert.equal(parseCloudSettings({}), undefined);
    assert.equal(parseCloudSettings({ CLOSEDPAW_CLOUD_MODELS: ' ' }), undefined);
  });

  test('models, providers (defaults and added), prices, caps', () => {
    const s = parseCloudSettings(ENV)!;
    assert.deepEqual(
      s.models.map((m) => [
        m.name,
        m.provider.name,
        m.provider.kind,
        m.provider.baseUrl,
        m.provider.keyName,
        m.upstreamModel,
      ]),
      [
        ['openai/gpt-4o-mini', 'openai', 'openai', 'https://api.openai.com/v1', 'openai', 'gpt-4o-mini'],
        [
          'anthropic/claude-3-5-haiku-latest',
          'anthropic',
          'anthropic',
          'https://api.anthropic.com/v1',
          'anthropic',
          'claude-3-5-haiku-latest',
        ],
        ['local/llama3:8b', 'local', 'openai', 'http://127.0.0.1:8000/v1', 'local-key', 'llama3:8b'],
      ],
    );
    assert.equal(s.maxCostMicroUsdPerTask, 250_000);
    assert.equal(s.maxOutputTokens, 4096);
    assert.equal(s.risk, 'critical');
    assert.equal(
      findCloudModel(s, 'openai/gpt-4o-mini:latest')?.name,
      'openai/gpt-4o-mini',
      'Ollama’s :latest rule',
    );
    assert.equal(findCloudModel(s, 'openai/gpt-4o'), undefined);
  });

  for (const [what, env, message] of [
    [
      'a model without a price',
      { CLOSEDPAW_CLOUD_MODELS: 'openai/gpt-4o' },
      /CLOSEDPAW_CLOUD_PRICES: openai\/gpt-4o has no price/,
    ],
    [
      'an unknown provider',
      { CLOSEDPAW_CLOUD_MODELS: 'acme/x', CLOSEDPAW_CLOUD_PRICES: 'acme/x=1/1' },
      /no provider "acme"/,
    ],
    ['a name without provider', { CLOSEDPAW_CLOUD_MODELS: 'gpt-4o' }, /is not <provider>\/<model>/],
    [
      'plain http to another host',
      { ...ENV, CLOSEDPAW_CLOUD_PROVIDERS: 'local=openai,http://10.0.0.5/v1,k' },
      /must be https/,
    ],
    [
      'credentials in the URL',
      { ...ENV, CLOSEDPAW_CLOUD_PROVIDERS: 'local=openai,https://u:p@x.example/v1,k' },
      /must not carry credentials/,
    ],
    [
      'an unknown kind',
      { ...ENV, CLOSEDPAW_CLOUD_PROVIDERS: 'local=gemini,https://x.example,k' },
      /kind "gemini"/,
    ],
    [
      'a bad vault key name',
      { ...ENV, CLOSEDPAW_CLOUD_PROVIDERS: 'local=openai,https://x.example,../k' },
      /vault key name/,
    ],
    [
      'a bad price',
      { ...ENV, CLOSEDPAW_CLOUD_PRICES: 'openai/gpt-4o-mini=cheap' },
      /is not model=<input>\/<output>/,
    ],
    [
      'a bad risk',
      { ...ENV, CLOSEDPAW_CLOUD_RISK: 'low' },
      /CLOSEDPAW_CLOUD_RISK: expected critical or high/,
    ],
    ['a zero cost cap', { ...ENV, CLOSEDPAW_CLOUD_MAX_COST_USD: '0' }, /CLOSEDPAW_CLOUD_MAX_COST_USD/],
  ] as const) {
    test(`refused with the variable named: ${what}`, () => {
      assert.throws(() => parseCloudSettings(env), message);
    });
  }

  test('risk: an allowlisted cloud model names provider and model; a cloud name off the list is critical too', () => {
    const s = parseCloudSettings(ENV)!;
    const risk = cloudModelRisk(s, 'anthropic/claude-3-5-haiku-latest');
    assert.equal(risk?.level, 'critical');
    assert.match(
      risk?.reason ?? '',
      /cloud model anthropic\/claude-3-5-haiku-latest.*provider anthropic \(api\.anthropic\.com\)/,
    );
    assert.equal(
      cloudModelRisk(parseCloudSettings({ ...ENV, CLOSEDPAW_CLOUD_RISK: 'high' }), 'openai/gpt-4o-mini')
        ?.level,
      'high',
    );
    assert.match(cloudModelRisk(s, 'openai/gpt-5')?.reason ?? '', /not in the operator's cloud allowlist/);
    assert.equal(cloudModelRisk(s, 'llama3.2:3b'), undefined);
    assert.equal(
      cloudModelRisk(undefined, 'library/llama3'),
      undefined,
      'an Ollama namespace is not a provider',
    );
  });
});

describe('cost and the per-call budget plan', () => {
  const price = { inputPerMTok: 0.15, outputPerMTok: 0.6 };
  const budget = { modelCalls: 10, tokens: 10_000, bytes: 1_000_000 };
  const usage = { modelCalls: 1, tokens: 0, bytes: 0, inFlight: 0 };
  test('cost is micro-USD, rounded up', () => {
    assert.equal(costMicroUsd(price, 1000, 100), 210);
    assert.equal(costMicroUsd(price, 1, 0), 1);
    assert.equal(usd(210), '$0.00021');
  });

  for (const [what, facts, expected] of [
    ['the operator cap', {}, { maxTokens: 4096 }],
    ['what is left of the token budget', { usage: { ...usage, tokens: 9000 } }, { maxTokens: 1000 - 100 }],
    [
      'what is left of the cost cap',
      { spentMicroUsd: 900, maxCostMicroUsd: 1000 },
      { maxTokens: Math.floor((100 - 100 * 0.15) / 0.6) },
    ],
    ['cost cap spent', { spentMicroUsd: 1000, maxCostMicroUsd: 1000 }, /cost budget exhausted/],
    [
      'prompt alone over the cost left',
      { spentMicroUsd: 999, maxCostMicroUsd: 1000 },
      /cost budget too small/,
    ],
    ['token budget spent', { usage: { ...usage, tokens: 9950 } }, /token budget too small/],
  ] as const) {
    test(`max tokens: ${what}`, () => {
      const plan = planCloudCall({
        budget,
        usage,
        spentMicroUsd: 0,
        maxCostMicroUsd: 1_000_000,
        requestBytes: 400,
        price,
        maxOutputTokens: 4096,
        ...facts,
      });
      if (expected instanceof RegExp) {
        assert.ok('code' in plan && plan.code === 'budget_exceeded', JSON.stringify(plan));
        assert.match(plan.message, expected);
      } else assert.deepEqual(plan, expected);
    });
  }
});
