import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentTaskSpecSchema } from '../api/agenttask.ts';
import { rateRisk } from '../policy/risk.ts';
import { intakeTask } from './service.ts';

test('a task asked for in a chat is valid, has no tools, and is critical: a human approves it first', () => {
  for (const prompt of ['Summarise the notes.', 'x'.repeat(40_000)]) {
    const task = intakeTask('smollm2:135m', prompt);
    const spec = agentTaskSpecSchema.parse(task.spec);
    assert.deepEqual(spec.tools, []);
    assert.ok(spec.prompt.length <= 32768);
    const risk = rateRisk(spec);
    assert.equal(risk.level, 'critical', JSON.stringify(risk));
    assert.ok(
      risk.reasons.some((r) => /approval: required/.test(r)),
      JSON.stringify(risk),
    );
  }
});
