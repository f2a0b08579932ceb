import assert from 'node:assert/strict';
import { test } from 'node:test';
import modelFile from './model.json' with { type: 'json' };
import { loadModel, MODEL, MODEL_FORMAT, type ModelFile, tokenWeight } from './model.ts';
import { HASH_BITS } from './tokens.ts';

const base: ModelFile = {
  format: MODEL_FORMAT,
  hashBits: HASH_BITS,
  bias: 0,
  threshold: 0.5,
  signals: {},
  tokenScale: 0.1,
  tokenIndex: [3, 2],
  tokenWeight: [5, -7],
};

test('loadModel decodes delta-coded indexes and scaled int8 levels', () => {
  const m = loadModel(base);
  assert.ok(Math.abs(tokenWeight(m, 3) - 0.5) < 1e-6);
  assert.ok(Math.abs(tokenWeight(m, 5) + 0.7) < 1e-6);
});

test('loadModel refuses files it cannot read, saying why', () => {
  assert.throws(() => loadModel({ ...base, format: 'pickle' }), /unknown format pickle/);
  assert.throws(() => loadModel({ ...base, hashBits: 16 }), /hashBits 16/);
  assert.throws(() => loadModel({ ...base, tokenIndex: [1] }), /differ in length/);
  assert.throws(() => loadModel({ ...base, tokenIndex: [1 << HASH_BITS, 0] }), /out of range/);
  assert.throws(() => loadModel({ ...base, tokenWeight: [128, 1] }), /token level 128 is not an int8/);
  assert.throws(() => loadModel({ ...base, tokenWeight: [0.5, 1] }), /token level 0.5 is not an int8/);
});

test('the shipped model is trained data, small enough for the gateway', () => {
  const file = modelFile as ModelFile;
  assert.ok(file.tokenIndex.length > 1000, 'n-gram weights present');
  assert.ok(JSON.stringify(file).length < 1_100_000, 'model file at most ~1 MB');
  assert.ok(MODEL.signals.size > 10, 'learned signal weights present');
});
