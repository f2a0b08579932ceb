import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { agentTaskSpecSchema } from './agenttask.ts';
import { buildCrd, crdFileName, RESOURCE_DEFINITIONS, renderCrdYaml } from './crd.ts';
import { structuralProblems } from './structural.ts';

const CRD_DIR = join(import.meta.dirname, '../../../crds');

describe('crds/ is generated from the zod schemas', () => {
  for (const def of RESOURCE_DEFINITIONS) {
    test(`${crdFileName(def)} has not drifted (fix: npm run crds)`, async () => {
      const committed = await readFile(join(CRD_DIR, crdFileName(def)), 'utf8');
      assert.equal(committed, renderCrdYaml(def));
    });
  }

  test('both kinds have a status subresource and the closedpaw category', () => {
    for (const def of RESOURCE_DEFINITIONS) {
      const crd = buildCrd(def);
      assert.deepEqual(crd.spec.versions[0]?.subresources, { status: {} });
      assert.deepEqual(crd.spec.names.categories, ['closedpaw']);
    }
  });
});

describe('structural schema lint', () => {
  const lint = (schema: z.ZodType) =>
    structuralProblems(
      z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input' }) as Record<string, unknown>,
    );

  test('accepts the real specs', () => {
    assert.deepEqual(lint(agentTaskSpecSchema), []);
  });
  test('rejects unions', () => {
    assert.match(
      lint(z.object({ a: z.union([z.string(), z.number()]) })).join(),
      /\.a: 'anyOf' is not allowed/,
    );
  });
  test('rejects $ref from registered ids', () => {
    const shared = z.string().meta({ id: 'Shared' });
    assert.match(lint(z.object({ a: shared, b: shared })).join(), /\.a: '\$ref' is not allowed/);
  });
  test('rejects additionalProperties beside properties', () => {
    assert.match(lint(z.strictObject({ a: z.string() })).join(), /additionalProperties' cannot stand beside/);
  });
  test('rejects untyped nodes', () => {
    assert.match(lint(z.object({ a: z.any() })).join(), /\.a: every node needs a single string 'type'/);
  });
});

describe('zod defaults match what the API server defaults', () => {
  test('a minimal spec parses to the documented defaults', () => {
    const spec = agentTaskSpecSchema.parse({ prompt: 'p', model: 'm' });
    assert.deepEqual(spec, {
      prompt: 'p',
      model: 'm',
      runtimeClassName: 'gvisor',
      tools: [],
      approval: 'auto',
      timeoutSeconds: 600,
      resources: { cpu: '500m', memory: '512Mi', ephemeralStorage: '1Gi' },
      budget: { modelCalls: 24, tokens: 100_000, bytes: 16 * 1024 * 1024 },
      toolOutputScreening: 'stop',
    });
  });
});
