import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setCondition } from './conditions.ts';

const t0 = new Date('2026-01-01T00:00:00Z');
const t1 = new Date('2026-01-01T00:01:00Z');

test('lastTransitionTime changes only when the status flips; observedGeneration always follows', () => {
  const first = setCondition([], { type: 'Ready', status: 'False', reason: 'A', message: 'a' }, 1, t0);
  const same = setCondition(first, { type: 'Ready', status: 'False', reason: 'B', message: 'b' }, 2, t1);
  assert.equal(same[0]?.lastTransitionTime, t0.toISOString());
  assert.equal(same[0]?.reason, 'B');
  assert.equal(same[0]?.observedGeneration, 2);
  const flipped = setCondition(same, { type: 'Ready', status: 'True', reason: 'C', message: 'c' }, 2, t1);
  assert.equal(flipped[0]?.lastTransitionTime, t1.toISOString());
  assert.equal(flipped.length, 1);
  assert.equal(
    setCondition(flipped, { type: 'Other', status: 'True', reason: 'D', message: '' }, 2, t1).length,
    2,
  );
});
