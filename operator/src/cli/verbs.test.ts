/**
 * The pieces of `ui`, `up`, `down`, `completion` and the shared helpers that need no cluster: argument
 * lists, messages, the UI token's source, the port-forward listener (with the UI's real Host check).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ParseArgsOptionsConfig } from 'node:util';
import { ApiException } from '@kubernetes/client-node';
import { hostAllowed } from '../server/ui/security.ts';
import { OPTIONS as APPROVALS_OPTIONS } from './approvals.ts';
import { OPTIONS as AUDIT_OPTIONS, AUDIT_SUBCOMMANDS, runAuditCli } from './audit.ts';
import { closest, explainApiError, parseArgsMessage, parseDuration } from './common.ts';
import { bashCompletion, COMMAND_OPTIONS, runCompletionCli, zshCompletion } from './completion.ts';
import { OPTIONS as DOCTOR_OPTIONS } from './doctor/index.ts';
import { OPTIONS as DOWN_OPTIONS, describeLeftovers, nothingLeft } from './down.ts';
import { chartLinks, explainHelmError, materializeChart, templateArgs, upgradeArgs } from './helm.ts';
import { releaseObjectName } from './operator-location.ts';
import { OPTIONS as RUN_OPTIONS } from './run.ts';
import { OPTIONS as SCREEN_OPTIONS } from './screen.ts';
import { listenForwarding, OPTIONS as UI_OPTIONS, uiPort, uiTokenSource, uiUrl } from './ui.ts';
import { deploymentNotReady, OPTIONS as UP_OPTIONS } from './up.ts';
import { runVaultCli, VAULT_SUBCOMMANDS } from './vault.ts';
import { VERBS } from './verbs.ts';

const BIN = join(import.meta.dirname, '../../bin/closedpaw.js');

describe('shared helpers', () => {
  test('durations', () => {
    const cases: Array<[string, number | undefined]> = [
      ['90', 90],
      ['90s', 90],
      ['15m', 900],
      ['2h', 7200],
      ['1h30m', 5400],
      ['soon', undefined],
      ['', undefined],
      ['5d', undefined],
    ];
    for (const [text, want] of cases) assert.equal(parseDuration(text), want, text);
  });

  test('did you mean', () => {
    assert.equal(closest('doctr', VERBS), 'doctor');
    assert.equal(closest('fs.raed', ['fs.read', 'fs.write']), 'fs.read');
    assert.equal(closest('completely-different', VERBS), undefined);
  });

  test('API errors say what to fix: credentials, RBAC, CRDs', () => {
    const error = (code: number, reason: string, message: string) =>
      new ApiException(code, message, JSON.stringify({ reason, message }), {});
    assert.match(
      explainApiError(error(401, 'Unauthorized', 'Unauthorized')),
      /credentials .* are not accepted; renew them/,
    );
    assert.match(
      explainApiError(
        error(403, 'Forbidden', 'agenttasks is forbidden'),
        undefined,
        'create agenttasks in namespace x',
      ),
      /^Error from server \(Forbidden\): agenttasks is forbidden: ask your cluster admin for RBAC to create agenttasks in namespace x$/,
    );
    assert.match(
      explainApiError(error(404, 'NotFound', 'the server could not find the requested resource')),
      /CRDs are not installed on this cluster; run closedpaw up/,
    );
  });

  test('unknown options: one line with the closest known option', () => {
    const e = new Error(
      "Unknown option '--tool'. To specify a positional argument starting with a '-', place it at the end",
    );
    assert.equal(parseArgsMessage(e, ['tools', 'model']), 'unknown option --tool (did you mean --tools?)');
  });
});

describe('closedpaw ui', () => {
  const deployment = (container: object, volumes: object[] = []) =>
    ({ spec: { selector: {}, template: { spec: { containers: [container], volumes } } } }) as never;

  test('the token comes from the Secret behind CLOSEDPAW_UI_TOKEN or behind the CLOSEDPAW_UI_TOKEN_FILE mount', () => {
    const fromEnv = {
      name: 'operator',
      env: [{ name: 'CLOSEDPAW_UI_TOKEN', valueFrom: { secretKeyRef: { name: 'ui', key: 'token' } } }],
    };
    assert.deepEqual(uiTokenSource(deployment(fromEnv), fromEnv as never), {
      kind: 'secret',
      secret: 'ui',
      key: 'token',
    });
    const fromFile = {
      name: 'operator',
      env: [{ name: 'CLOSEDPAW_UI_TOKEN_FILE', value: '/etc/closedpaw/ui-token/token' }],
      volumeMounts: [
        { name: 'state', mountPath: '/var/lib/closedpaw' },
        { name: 'ui-token', mountPath: '/etc/closedpaw/ui-token' },
      ],
    };
    const volumes = [{ name: 'ui-token', secret: { secretName: 'closedpaw-ui-token' } }];
    assert.deepEqual(uiTokenSource(deployment(fromFile, volumes), fromFile as never), {
      kind: 'secret',
      secret: 'closedpaw-ui-token',
      key: 'token',
    });
    const mapped = [
      { name: 'ui-token', secret: { secretName: 's', items: [{ key: 'value', path: 'token' }] } },
    ];
    assert.deepEqual(uiTokenSource(deployment(fromFile, mapped), fromFile as never), {
      kind: 'secret',
      secret: 's',
      key: 'value',
    });
    const onDisk = { ...fromFile, volumeMounts: [{ name: 'state', mountPath: '/etc/closedpaw' }] };
    assert.equal(
      uiTokenSource(deployment(onDisk, [{ name: 'state', emptyDir: {} }]), onDisk as never).kind,
      'none',
    );
    const generated = { name: 'operator', env: [] };
    assert.match(
      (uiTokenSource(deployment(generated), generated as never) as { why: string }).why,
      /generates its own UI token/,
    );
  });

  test('the port comes from CLOSEDPAW_UI_ADDR; the token goes in the URL fragment, never the query', () => {
    assert.equal(uiPort({ name: 'o', env: [{ name: 'CLOSEDPAW_UI_ADDR', value: '127.0.0.1:7781' }] }), 7781);
    assert.equal(uiPort({ name: 'o' }), 7780);
    assert.equal(uiPort({ name: 'o', env: [{ name: 'CLOSEDPAW_UI_ADDR', value: 'off' }] }), undefined);
    assert.equal(uiUrl(7780, 'a+b/c'), 'http://127.0.0.1:7780/#token=a%2Bb%2Fc');
    assert.doesNotMatch(uiUrl(7780, 'x'), /\?/);
  });

  test('the forwarded local port reaches a UI whose Host check accepts it (any loopback port)', async () => {
    // The UI as the pod runs it, checking Host with the real guard (security.ts).
    const ui = createServer((socket) => {
      socket.once('data', (data) => {
        const host = /\r\nhost: ([^\r]+)\r\n/i.exec(data.toString())?.[1];
        const status = hostAllowed(host) ? '200 OK' : '403 Forbidden';
        socket.end(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
      });
    });
    await new Promise<void>((resolve) => ui.listen(0, '127.0.0.1', resolve));
    const uiPortNumber = (ui.address() as AddressInfo).port;
    const forward = async (socket: import('node:net').Socket) => {
      const upstream = connect(uiPortNumber, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
    };
    const local = await listenForwarding(0, forward, (e) => assert.fail(String(e)));
    const localPort = (local.address() as AddressInfo).port;
    const get = () =>
      new Promise<number>((resolve, reject) => {
        request({ host: '127.0.0.1', port: localPort, path: '/' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
    try {
      assert.equal(await get(), 200);
      await assert.rejects(
        listenForwarding(localPort, forward, () => undefined),
        /local port \d+ is in use/,
      );
    } finally {
      local.close();
      ui.close();
    }
  });
});

describe('closedpaw up / down', () => {
  test('helm argument lists', () => {
    const a = {
      release: 'closedpaw',
      namespace: 'cs',
      chart: '/c',
      values: ['v.yaml'],
      set: ['allowDns=true'],
    };
    assert.deepEqual(upgradeArgs(a), [
      'upgrade',
      '--install',
      'closedpaw',
      '/c',
      '--namespace',
      'cs',
      '--create-namespace',
      '--values',
      'v.yaml',
      '--set',
      'allowDns=true',
      '--output',
      'json',
    ]);
    assert.deepEqual(templateArgs(a), [
      'template',
      'closedpaw',
      '/c',
      '--namespace',
      'cs',
      '--values',
      'v.yaml',
      '--set',
      'allowDns=true',
      '--include-crds',
    ]);
    assert.equal(releaseObjectName('closedpaw'), 'closedpaw');
    assert.equal(releaseObjectName('prod'), 'prod-closedpaw');
  });

  test("helm's errors in one line with what to do", () => {
    assert.match(
      explainHelmError(
        'Error: Unable to continue with install: ValidatingAdmissionPolicy "x" exists and cannot be imported into the current release: invalid ownership metadata\n',
      ),
      /objects from an earlier kubectl apply -f crds\/ .* --take-ownership$/,
    );
    assert.equal(
      explainHelmError('some noise\nError: uninstall: Release not loaded: x: release: not found\n'),
      'Error: uninstall: Release not loaded: x: release: not found — helm list -A shows the installed releases',
    );
  });

  test('the chart is completed from crds/ when npm dropped its symlinks', () => {
    assert.deepEqual(chartLinks(['a.closedpaw.dev.yaml', 'policy.yaml', 'README.md']), [
      { from: 'a.closedpaw.dev.yaml', to: 'crds/a.closedpaw.dev.yaml' },
      { from: 'policy.yaml', to: 'files/policy.yaml' },
    ]);
    const root = mkdtempSync(join(tmpdir(), 'closedpaw-chart-test-'));
    try {
      mkdirSync(join(root, 'crds'));
      mkdirSync(join(root, 'chart/templates'), { recursive: true });
      writeFileSync(join(root, 'crds/a.closedpaw.dev.yaml'), 'kind: CustomResourceDefinition\n');
      writeFileSync(join(root, 'crds/policy.yaml'), 'kind: ValidatingAdmissionPolicy\n');
      writeFileSync(join(root, 'chart/Chart.yaml'), 'name: c\n');
      const chart = materializeChart(join(root, 'chart'), join(root, 'crds'));
      assert.notEqual(chart.dir, join(root, 'chart'));
      assert.equal(
        readFileSync(join(chart.dir, 'crds/a.closedpaw.dev.yaml'), 'utf8'),
        'kind: CustomResourceDefinition\n',
      );
      assert.equal(
        readFileSync(join(chart.dir, 'files/policy.yaml'), 'utf8'),
        'kind: ValidatingAdmissionPolicy\n',
      );
      chart.cleanup();
      // A chart that has them (a checkout, where they are symlinks) is used as it is.
      mkdirSync(join(root, 'chart/crds'));
      mkdirSync(join(root, 'chart/files'));
      writeFileSync(join(root, 'chart/crds/a.closedpaw.dev.yaml'), 'x');
      writeFileSync(join(root, 'chart/files/policy.yaml'), 'y');
      assert.equal(materializeChart(join(root, 'chart'), join(root, 'crds')).dir, join(root, 'chart'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('Deployment readiness and what down waits for', () => {
    const d = (status: object, generation = 1) =>
      ({ metadata: { generation }, spec: { replicas: 1 }, status }) as never;
    assert.equal(deploymentNotReady(undefined), 'the Deployment does not exist yet');
    assert.equal(
      deploymentNotReady(d({ observedGeneration: 0 })),
      'the Deployment controller has not seen the new spec yet',
    );
    assert.equal(
      deploymentNotReady(d({ observedGeneration: 1, updatedReplicas: 1, availableReplicas: 0 })),
      '0/1 pods are Ready',
    );
    assert.equal(
      deploymentNotReady(d({ observedGeneration: 1, updatedReplicas: 1, availableReplicas: 1 })),
      undefined,
    );
    assert.equal(nothingLeft({ tasks: 0, pods: 0, policies: 1 }), false);
    assert.equal(
      describeLeftovers({ tasks: 1, pods: 0, policies: 2 }),
      '1 AgentTask, 0 sandbox pods, 2 NetworkPolicies',
    );
  });
});

describe('closedpaw completion and the command line', () => {
  test('bash and zsh scripts name every command and the option values', () => {
    for (const script of [bashCompletion(), zshCompletion()]) {
      for (const verb of VERBS) assert.ok(script.includes(verb), verb);
      assert.ok(script.includes('fs.read fs.write fs.list shell'));
      assert.ok(script.includes('gvisor kata-qemu'));
    }
    const bash = spawnSync('bash', ['-n'], { input: bashCompletion() });
    assert.equal(bash.status, 0, bash.stderr.toString());
    let err = '';
    assert.equal(runCompletionCli(['fish'], { stdout: () => undefined, stderr: (s) => (err += s) }), 2);
    assert.match(err, /unsupported shell "fish": bash or zsh/);
  });

  test('completion offers every command, and every option each command parses', () => {
    for (const verb of VERBS) assert.ok(COMMAND_OPTIONS[verb], `no completion for ${verb}`);
    const parsed: Record<string, ParseArgsOptionsConfig> = {
      run: RUN_OPTIONS,
      up: UP_OPTIONS,
      down: DOWN_OPTIONS,
      ui: UI_OPTIONS,
      doctor: DOCTOR_OPTIONS,
      audit: AUDIT_OPTIONS,
      screen: SCREEN_OPTIONS,
    };
    const offered = (verbs: string[]) => new Set(verbs.flatMap((v) => COMMAND_OPTIONS[v] ?? []));
    const expectAll = (options: ParseArgsOptionsConfig, verbs: string[]) => {
      for (const [name, spec] of Object.entries(options)) {
        assert.ok(offered(verbs).has(`--${name}`), `${verbs.join('/')}: --${name} not offered`);
        if (spec.short) assert.ok(offered(verbs).has(`-${spec.short}`), `${verbs.join('/')}: -${spec.short}`);
      }
    };
    for (const [verb, options] of Object.entries(parsed)) expectAll(options, [verb]);
    // One parser for approvals, approve and deny: between them they offer all of it.
    expectAll(APPROVALS_OPTIONS, ['approvals', 'approve', 'deny']);
    assert.ok(COMMAND_OPTIONS.up?.includes('--dry-run'));
    assert.ok(COMMAND_OPTIONS.audit?.includes('--since'));
  });

  test('the sub-commands completion offers are ones the commands dispatch', async () => {
    const io = (into: string[]) => ({ stdout: () => undefined, stderr: (s: string) => into.push(s) });
    for (const sub of AUDIT_SUBCOMMANDS) {
      const err: string[] = [];
      await runAuditCli([sub], io(err));
      assert.doesNotMatch(err.join(''), /unknown command/, `audit ${sub}`);
    }
    const unknown: string[] = [];
    await runAuditCli(['nonsense'], io(unknown));
    assert.match(unknown.join(''), /unknown command "nonsense"/);
    // The vault's, against an empty state directory (no key: each stops before touching anything).
    const state = mkdtempSync(join(tmpdir(), 'closedpaw-vault-subcommands-'));
    try {
      const vaultIo = (into: string[]) => ({
        ...io(into),
        stdin: (async function* () {})(),
        env: { XDG_STATE_HOME: state },
      });
      for (const sub of [...VAULT_SUBCOMMANDS, 'nonsense']) {
        const err: string[] = [];
        await runVaultCli([sub], vaultIo(err));
        if (sub === 'nonsense') assert.match(err.join(''), /unknown command "nonsense"/);
        else assert.doesNotMatch(err.join(''), /unknown command/, `vault ${sub}`);
      }
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  test('unknown commands are a one-line usage error (exit 2) with a suggestion', () => {
    const r = spawnSync(BIN, ['doctr'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.equal(
      r.stderr,
      'closedpaw: unknown command "doctr" (did you mean doctor?); closedpaw --help lists the commands\n',
    );
    const help = spawnSync(BIN, ['help', 'doctor'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^usage: closedpaw doctor/);
  });
});
