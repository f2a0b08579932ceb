import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IMAGES, NONROOT_UID, productionPackagePaths } from '../../hack/images/images.ts';

test('production packages: no dev-only ones, nested ones come with their parent, optional ones marked', () => {
  const lock = {
    packages: {
      '': {},
      'node_modules/fastify': {},
      'node_modules/fastify/node_modules/semver': {},
      'node_modules/typescript': { dev: true },
      'node_modules/fsevents': { optional: true },
      'node_modules/@types/node': { devOptional: true },
      'node_modules/@scope/pkg': {},
    },
  };
  assert.deepEqual(productionPackagePaths(lock), [
    { path: 'node_modules/@scope/pkg', optional: false },
    { path: 'node_modules/fastify', optional: false },
    { path: 'node_modules/fsevents', optional: true },
  ]);
});

test('every image but pause runs as the non-root uid, with absolute entrypoints it holds', () => {
  for (const spec of Object.values(IMAGES)) {
    const [program] = spec.config.entrypoint;
    assert.ok(program?.startsWith('/'), `${spec.name}: entrypoint ${program} is not absolute`);
    assert.ok(spec.keyFiles.includes(program!), `${spec.name}: ${program} is not a key file`);
    if (spec.name !== 'pause') assert.equal(spec.config.user, `${NONROOT_UID}:${NONROOT_UID}`, spec.name);
  }
  assert.deepEqual(IMAGES.runner.config.entrypoint, ['/usr/local/bin/node', '/opt/closedpaw/runner.js']);
});
