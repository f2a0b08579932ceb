import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { OPERATOR_MAIN, OPERATOR_NODE_FLAGS, operatorEnvWords } from './launch.ts';

test('npm run operator starts the bundle with the same flags and environment as the image and the tests', () => {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8'));
  assert.equal(
    pkg.scripts.operator,
    `npm run -s build && ${operatorEnvWords().join(' ')} node ${OPERATOR_NODE_FLAGS.join(' ')} ${OPERATOR_MAIN}`,
  );
  assert.match(pkg.scripts.build, /vite build --config operator\/src\/vite\.config\.ts/);
});
