/**
 * The doctor's verdicts as pure functions of what was read from the cluster (gather.ts, probe.ts,
 * in-pod.ts): each returns checks with a one-line hint saying what to do.
 */
import type {
  V1CustomResourceDefinition,
  V1Lease,
  V1Namespace,
  V1RuntimeClass,
  V1Service,
  V1ValidatingAdmissionPolicy,
} from '@kubernetes/client-node';
import { runtimeClassVerdict, SANDBOX_HANDLERS } from '../../sandbox/runtime-class.ts';
import { type Check, fail, ok, warn } from './checks.ts';

// ---------------------------------------------------------------- cluster

/** The chart's kubeVersion: ValidatingAdmissionPolicy v1 is GA from 1.30. */
export const MIN_MINOR = 30;

export function judgeVersion(v: { major: string; minor: string; gitVersion: string }): Check {
  const major = Number.parseInt(v.major, 10);
  const minor = Number.parseInt(v.minor, 10);
  if (major === 1 && minor >= MIN_MINOR)
    return ok('cluster', 'version', `Kubernetes ${v.gitVersion} is supported (≥ 1.${MIN_MINOR})`);
  return fail(
    'cluster',
    'version',
    `Kubernetes ${v.gitVersion} is not supported`,
    `ClosedPaw needs Kubernetes ≥ 1.${MIN_MINOR} (ValidatingAdmissionPolicy v1): upgrade the cluster`,
  );
}

/** What of a CRD must match this CLI's: versions, their schema, scope and names. */
export function crdShape(crd: Pick<V1CustomResourceDefinition, 'spec'>): unknown {
  const spec = crd.spec;
  return canonical({
    scope: spec.scope,
    names: { kind: spec.names.kind, plural: spec.names.plural },
    versions: spec.versions.map((v) => ({
      name: v.name,
      served: v.served,
      storage: v.storage,
      schema: v.schema?.openAPIV3Schema,
      subresources: v.subresources ?? {},
    })),
  });
}

/** JSON with sorted keys and no undefined, so two objects compare by content. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

const same = (a: unknown, b: unknown) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));

export function judgeCrd(
  expected: Pick<V1CustomResourceDefinition, 'metadata' | 'spec'>,
  installed: V1CustomResourceDefinition | undefined,
  pre: boolean,
): Check {
  const name = expected.metadata?.name ?? '?';
  const id = `crd-${name}`;
  if (!installed) {
    return pre
      ? ok('cluster', id, `CRD ${name} is not installed yet`, 'closedpaw up installs it')
      : fail(
          'cluster',
          id,
          `CRD ${name} is installed`,
          'it is missing: run closedpaw up (or kubectl apply -f crds/)',
        );
  }
  if (!same(crdShape(expected), crdShape(installed))) {
    return fail(
      'cluster',
      id,
      `CRD ${name} is current`,
      'it differs from this CLI’s schema (an older or edited CRD): run closedpaw up (or kubectl apply --server-side -f crds/)',
    );
  }
  const established = installed.status?.conditions?.some(
    (c) => c.type === 'Established' && c.status === 'True',
  );
  if (!established)
    return fail(
      'cluster',
      id,
      `CRD ${name} is established`,
      'the API server has not accepted it yet: kubectl describe crd',
    );
  return ok('cluster', id, `CRD ${name} is installed and current`);
}

/** What of an admission policy must match: its rules, variables and parameter kind. */
export function policyShape(policy: Pick<V1ValidatingAdmissionPolicy, 'spec'>): unknown {
  const spec = policy.spec ?? {};
  return canonical({
    paramKind: spec.paramKind,
    variables: (spec.variables ?? []).map((v) => ({ name: v.name, expression: v.expression })),
    validations: (spec.validations ?? []).map((v) => ({
      expression: v.expression,
      message: v.message,
      messageExpression: v.messageExpression,
      reason: v.reason,
    })),
    matchConditions: (spec.matchConditions ?? []).map((c) => ({ name: c.name, expression: c.expression })),
  });
}

export interface PolicyFacts {
  installed?: V1ValidatingAdmissionPolicy;
  /** Bindings naming this policy. */
  bindings: Array<{
    name: string;
    paramRef?: { name?: string; namespace?: string };
    paramFound?: boolean;
    /** The identities the parameter lists as the operator's (`data.operators`), when it has that key. */
    paramOperators?: string[];
  }>;
  /** The user the running operator authenticates as (its service account), when an operator was found. */
  operatorUser?: string;
  /** Why this installation may go without the policy (e.g. a feature it guards is off). */
  optional?: string;
}

export function judgePolicy(expected: V1ValidatingAdmissionPolicy, facts: PolicyFacts, pre: boolean): Check {
  const name = expected.metadata?.name ?? '?';
  const id = `policy-${name}`;
  if (!facts.installed) {
    if (facts.optional) return ok('cluster', id, `admission policy ${name} is not needed: ${facts.optional}`);
    return pre
      ? ok('cluster', id, `admission policy ${name} is not installed yet`, 'closedpaw up installs it')
      : fail(
          'cluster',
          id,
          `admission policy ${name} is installed`,
          'it is missing, so the API server does not enforce it: run closedpaw up',
        );
  }
  if (!same(policyShape(expected), policyShape(facts.installed))) {
    return fail(
      'cluster',
      id,
      `admission policy ${name} is current`,
      'its rules differ from this CLI’s: run closedpaw up',
    );
  }
  if (facts.bindings.length === 0) {
    return fail(
      'cluster',
      id,
      `admission policy ${name} is bound`,
      'no ValidatingAdmissionPolicyBinding names it, so nothing is enforced: run closedpaw up',
    );
  }
  const noParam = facts.bindings.find((b) => b.paramRef?.name && b.paramFound === false);
  if (noParam) {
    return fail(
      'cluster',
      id,
      `admission policy ${name} has its parameters`,
      `binding ${noParam.name} names ConfigMap ${noParam.paramRef?.namespace}/${noParam.paramRef?.name}, which is missing: every request it covers is refused; run closedpaw up`,
    );
  }
  const user = facts.operatorUser;
  const notListed = user && facts.bindings.find((b) => b.paramOperators && !b.paramOperators.includes(user));
  if (notListed) {
    return fail(
      'cluster',
      id,
      `admission policy ${name} knows the operator`,
      `binding ${notListed.name} names ConfigMap ${notListed.paramRef?.namespace}/${notListed.paramRef?.name}, which does not list ${user} (another installation's?): the API server refuses the operator's Approvals, so critical tasks fail; run closedpaw up`,
    );
  }
  return ok('cluster', id, `admission policy ${name} is installed, current and bound`);
}

export function judgeInstallRights(denied: string[]): Check {
  if (denied.length === 0)
    return ok(
      'cluster',
      'install-rbac',
      'you may install ClosedPaw (CRDs, admission policies, cluster roles)',
    );
  return fail(
    'cluster',
    'install-rbac',
    'you may install ClosedPaw',
    `the API server says you may not ${denied.join(', ')}: ask for cluster-admin to run closedpaw up`,
  );
}

// ---------------------------------------------------------------- runtime

export function judgeRuntimeClass(
  name: string,
  rc: V1RuntimeClass | undefined,
  required: boolean,
  handlers = SANDBOX_HANDLERS,
): Check {
  const id = `runtimeclass-${name}`;
  const verdict = runtimeClassVerdict(name, rc, handlers);
  if (verdict.ok)
    return ok('runtime', id, `RuntimeClass ${name} exists and its handler ${verdict.handler} is a sandbox`);
  if (verdict.reason === 'RuntimeClassNotFound') {
    return required
      ? fail(
          'runtime',
          id,
          `RuntimeClass ${name} exists`,
          `no task can run without it: install gVisor on the nodes and create it (--set runtimeClasses.gvisor.create=true)`,
        )
      : ok(
          'runtime',
          id,
          `RuntimeClass ${name} is not installed`,
          `only needed for tasks with --runtime ${name}`,
        );
  }
  return fail(
    'runtime',
    id,
    `RuntimeClass ${name} has a sandbox handler`,
    `${verdict.message}; point it at runsc (gVisor) or kata*`,
  );
}

export function judgeNodes(nodes: Array<{ name: string; ready: boolean }>): Check {
  const ready = nodes.filter((n) => n.ready);
  if (ready.length > 0)
    return ok('runtime', 'nodes', `${ready.length} Ready node${ready.length === 1 ? '' : 's'}`);
  return warn(
    'runtime',
    'nodes',
    'a Ready node exists',
    nodes.length === 0 ? 'the cluster has no nodes: no pod can run' : 'no node is Ready: no pod can run',
  );
}

// ---------------------------------------------------------------- network

export const RESTRICTED = 'restricted';

export function judgePodSecurity(namespaces: V1Namespace[]): Check[] {
  if (namespaces.length === 0) {
    return [
      ok(
        'network',
        'podsecurity',
        'no agent namespaces yet',
        'label them pod-security.kubernetes.io/enforce=restricted (or list them in agentNamespaces)',
      ),
    ];
  }
  return namespaces.map((ns) => {
    const name = ns.metadata?.name ?? '?';
    const level = ns.metadata?.labels?.['pod-security.kubernetes.io/enforce'];
    if (level === RESTRICTED)
      return ok(
        'network',
        `podsecurity-${name}`,
        `agent namespace ${name} enforces the restricted Pod Security Standard`,
      );
    return fail(
      'network',
      `podsecurity-${name}`,
      `agent namespace ${name} enforces the restricted Pod Security Standard`,
      `it ${level ? `enforces "${level}"` : 'has no enforce label'}: kubectl label ns ${name} pod-security.kubernetes.io/enforce=restricted --overwrite`,
    );
  });
}

// ---------------------------------------------------------------- operator

export interface DeploymentFacts {
  name: string;
  namespace: string;
  ready: boolean;
  /** Why not, from its pods. */
  problem: string;
}

export function judgeOperatorReady(d: DeploymentFacts | undefined, namespace: string): Check {
  if (!d) {
    return fail(
      'operator',
      'operator-ready',
      `the operator runs in namespace ${namespace}`,
      `no operator Deployment there: closedpaw up, or name its namespace with -n`,
    );
  }
  if (d.ready) return ok('operator', 'operator-ready', `operator ${d.namespace}/${d.name} is Ready`);
  return fail(
    'operator',
    'operator-ready',
    `operator ${d.namespace}/${d.name} is Ready`,
    `${d.problem}: kubectl describe deployment ${d.name} -n ${d.namespace}`,
  );
}

export function judgeLeader(
  lease: V1Lease | undefined,
  leaseRef: { namespace: string; name: string },
  pods: string[],
  now: Date,
  electionOn: boolean,
): Check {
  if (!electionOn)
    return warn(
      'operator',
      'leader',
      'leader election is on',
      'CLOSEDPAW_LEADER_ELECTION=false: two operator pods would both act; keep replicas at 1',
    );
  const where = `Lease ${leaseRef.namespace}/${leaseRef.name}`;
  if (!lease)
    return fail(
      'operator',
      'leader',
      'a leader is elected',
      `${where} does not exist: no operator has ever led; is it running?`,
    );
  const holder = lease.spec?.holderIdentity;
  const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : undefined;
  const duration = (lease.spec?.leaseDurationSeconds ?? 15) * 1000;
  if (!holder || renewed === undefined)
    return fail('operator', 'leader', 'a leader is elected', `${where} has no holder: nobody leads`);
  const age = Math.round((now.getTime() - renewed) / 1000);
  if (now.getTime() - renewed > duration) {
    return fail(
      'operator',
      'leader',
      'a leader is elected',
      `${where} was last renewed ${age}s ago by ${holder} and has expired: the operator is not working`,
    );
  }
  if (pods.length > 0 && !pods.includes(holder)) {
    return warn(
      'operator',
      'leader',
      `a leader is elected (${holder})`,
      `${holder} is not one of the operator's pods (${pods.join(', ')}): another operator leads`,
    );
  }
  return ok('operator', 'leader', `leader elected: ${holder} (renewed ${age}s ago)`);
}

export function judgeGatewayService(
  service: V1Service | undefined,
  readyEndpoints: number,
  name: string,
): Check {
  if (!service)
    return fail(
      'operator',
      'gateway-service',
      `gateway Service ${name} exists`,
      'sandbox pods have nowhere to call: closedpaw up',
    );
  if (readyEndpoints === 0) {
    return fail(
      'operator',
      'gateway-service',
      `gateway Service ${name} has ready endpoints`,
      'no Ready operator pod behind it: sandbox pods cannot reach the gateway',
    );
  }
  return ok(
    'operator',
    'gateway-service',
    `gateway Service ${name} has ${readyEndpoints} ready endpoint${readyEndpoints === 1 ? '' : 's'}`,
  );
}

export interface HttpProbe {
  status?: number;
  body?: string;
  error?: string;
}

/** Ollama management endpoints the gateway must refuse (asked with GET only: a read can never pull or delete). */
export const MANAGEMENT_ENDPOINTS = [
  '/api/pull',
  '/api/push',
  '/api/create',
  '/api/delete',
  '/api/copy',
  '/api/tags',
  '/api/ps',
  '/api/show',
];

export function judgeGateway(
  version: HttpProbe | undefined,
  refused: Record<string, HttpProbe> | undefined,
): Check[] {
  if (!version || !refused)
    return [
      warn('operator', 'gateway', 'the gateway answers', 'not checked: no running operator pod to ask from'),
    ];
  const checks: Check[] = [];
  checks.push(
    version.status === 200
      ? ok('operator', 'gateway', 'the gateway answers GET /api/version')
      : fail(
          'operator',
          'gateway',
          'the gateway answers GET /api/version',
          `got ${version.status ?? version.error}: is CLOSEDPAW_GATEWAY_ADDR set and the gateway started? (operator log)`,
        ),
  );
  const leaks = Object.entries(refused).filter(
    ([, r]) => !(r.status === 403 && /"forbidden_endpoint"/.test(r.body ?? '')),
  );
  checks.push(
    leaks.length === 0
      ? ok(
          'operator',
          'gateway-refuses',
          `the gateway refuses Ollama's management endpoints (${Object.keys(refused).length} checked: 403 forbidden_endpoint)`,
        )
      : fail(
          'operator',
          'gateway-refuses',
          "the gateway refuses Ollama's management endpoints",
          `${leaks.map(([p, r]) => `${p} → ${r.status ?? r.error}`).join(', ')}: this is not ClosedPaw's gateway, or it is broken; do not run tasks`,
        ),
  );
  return checks;
}

export function judgeReadyz(readyz: HttpProbe | undefined): Check {
  if (!readyz)
    return warn('operator', 'readyz', 'the operator reports ready', 'not checked: no running operator pod');
  if (readyz.status === 200) return ok('operator', 'readyz', 'the operator reports ready (/readyz)');
  return fail(
    'operator',
    'readyz',
    'the operator reports ready (/readyz)',
    `${readyz.status ?? readyz.error}: ${(readyz.body ?? '').trim().slice(0, 300)}`,
  );
}

/** Settings that weaken a guarantee, read from the operator's env. */
export function judgeOverrides(env: Record<string, string | undefined>): Check[] {
  const checks: Check[] = [];
  if (env.CLOSEDPAW_ALLOW_DNS === 'true') {
    checks.push(
      warn(
        'network',
        'override-dns',
        'DNS egress for sandbox pods is off',
        'allowDns=true: sandbox pods may send DNS queries, an exfiltration channel; set allowDns=false unless a tool needs names',
      ),
    );
  } else checks.push(ok('network', 'override-dns', 'DNS egress for sandbox pods is off'));
  if (env.CLOSEDPAW_AUDIT === 'off') {
    checks.push(
      fail(
        'audit',
        'override-audit',
        'the audit log is on',
        'CLOSEDPAW_AUDIT=off: nothing is recorded; set audit.enabled=true',
      ),
    );
  }
  const handlers = (env.CLOSEDPAW_SANDBOX_HANDLERS ?? '').split(',').filter(Boolean);
  const unsafe = handlers.filter((h) => !/^(runsc|kata)/.test(h));
  if (unsafe.length > 0) {
    checks.push(
      fail(
        'runtime',
        'override-handlers',
        'only sandbox handlers count as sandboxes',
        `CLOSEDPAW_SANDBOX_HANDLERS includes ${unsafe.join(', ')}: tasks could run without a sandbox; remove it`,
      ),
    );
  }
  if (env.CLOSEDPAW_GATEWAY_ADDR === 'off') {
    checks.push(
      warn(
        'operator',
        'override-gateway',
        'the model gateway is on',
        'CLOSEDPAW_GATEWAY_ADDR=off: sandbox pods have no model to call',
      ),
    );
  }
  const ttl = Number(env.CLOSEDPAW_APPROVAL_TTL_SECONDS ?? '1800');
  if (ttl > 86400) {
    checks.push(
      warn(
        'operator',
        'override-approval-ttl',
        'approvals expire within a day',
        `approvalTtlSeconds=${ttl}: an approval request stays open ${Math.round(ttl / 3600)}h; shorter is safer`,
      ),
    );
  }
  if (!env.CLOSEDPAW_APPROVER_USERS && !env.CLOSEDPAW_APPROVER_GROUPS) {
    checks.push(
      warn(
        'operator',
        'override-approvers',
        'approvers are named',
        'approvers.users/groups are empty: anyone bound to closedpaw-approver may approve any task',
      ),
    );
  }
  return checks;
}

// ---------------------------------------------------------------- model

export function judgeOllama(tags: HttpProbe | undefined, configured: string[], url: string): Check[] {
  if (!tags)
    return [
      warn(
        'model',
        'ollama',
        `Ollama (${url}) is reachable from the gateway`,
        'not checked: no running operator pod to ask from',
      ),
    ];
  if (tags.status !== 200) {
    return [
      fail(
        'model',
        'ollama',
        `Ollama (${url}) is reachable from the gateway`,
        `${tags.status ?? tags.error}: check ollama.url / ollama.enabled, and that a NetworkPolicy lets the operator reach it`,
      ),
    ];
  }
  let models: string[] = [];
  try {
    models = ((JSON.parse(tags.body ?? '{}') as { models?: Array<{ name?: string }> }).models ?? []).map(
      (m) => m.name ?? '',
    );
  } catch {
    return [
      fail('model', 'ollama', `Ollama (${url}) answers /api/tags`, 'its answer is not JSON: is that Ollama?'),
    ];
  }
  const checks = [
    ok(
      'model',
      'ollama',
      `Ollama (${url}) is reachable from the gateway`,
      `models: ${models.join(', ') || 'none'}`,
    ),
  ];
  const has = (m: string) => models.includes(m) || models.includes(`${m}:latest`);
  const missing = configured.filter((m) => !has(m));
  if (configured.length === 0) {
    checks.push(
      models.length > 0
        ? ok('model', 'models', `Ollama has ${models.length} model${models.length === 1 ? '' : 's'}`)
        : warn(
            'model',
            'models',
            'Ollama has a model',
            'it has none: set ollama.models (or ollama pull one) before running tasks',
          ),
    );
  } else if (missing.length > 0) {
    checks.push(
      fail(
        'model',
        'models',
        'the configured models are on Ollama',
        `missing: ${missing.join(', ')} (the pull Job may still run: kubectl get jobs)`,
      ),
    );
  } else {
    checks.push(ok('model', 'models', `the configured models are on Ollama (${configured.join(', ')})`));
  }
  return checks;
}

// ---------------------------------------------------------------- audit

export type AuditVerify =
  | { ok: true; records: number; signedSeq: number; local?: number; external?: number }
  | { ok: false; problem: string }
  | { skipped: string };

export function judgeAudit(
  readyz: HttpProbe | undefined,
  verify: AuditVerify | undefined,
  auditOn: boolean,
): Check[] {
  if (!auditOn) return [];
  const checks: Check[] = [];
  if (!readyz)
    checks.push(
      warn('audit', 'audit-writable', 'the audit log is writable', 'not checked: no running operator pod'),
    );
  else if (readyz.status === 200)
    checks.push(
      ok('audit', 'audit-writable', 'the audit log is writable (the operator is ready, so its log records)'),
    );
  else if (/audit/i.test(readyz.body ?? '')) {
    checks.push(
      fail(
        'audit',
        'audit-writable',
        'the audit log is writable',
        `${(readyz.body ?? '').trim().slice(0, 300)}: tasks stay Blocked until it is (check the state volume)`,
      ),
    );
  } else
    checks.push(
      warn(
        'audit',
        'audit-writable',
        'the audit log is writable',
        `the operator is not ready for another reason: ${(readyz.body ?? '').trim().slice(0, 200)}`,
      ),
    );
  if (!verify)
    checks.push(
      warn(
        'audit',
        'audit-verify',
        'the latest audit checkpoint verifies',
        'not checked: no running operator pod',
      ),
    );
  else if ('skipped' in verify)
    checks.push(warn('audit', 'audit-verify', 'the latest audit checkpoint verifies', verify.skipped));
  else if (!verify.ok) {
    checks.push(
      fail(
        'audit',
        'audit-verify',
        'the audit log verifies',
        `${verify.problem}: the log or its checkpoints were changed or lost; see docs/audit.md`,
      ),
    );
  } else if (verify.signedSeq === 0 && verify.records > 0) {
    checks.push(
      warn(
        'audit',
        'audit-verify',
        'the latest audit checkpoint verifies',
        `${verify.records} records, none under a signed checkpoint yet`,
      ),
    );
  } else {
    checks.push(
      ok(
        'audit',
        'audit-verify',
        `the audit log verifies (${verify.records} records; checkpoint seq ${verify.signedSeq})`,
      ),
    );
  }
  return checks;
}

// ---------------------------------------------------------------- ui

export function judgeUiBinding(
  uiAddr: string | undefined,
  reach: { loopback: string; external: Record<string, string> } | undefined,
  exposingServices: string[],
): Check[] {
  const addr = uiAddr ?? '127.0.0.1:7780';
  if (addr === 'off') return [ok('ui', 'ui-loopback', 'the approval UI is off')];
  const checks: Check[] = [];
  if (!/^(127\.0\.0\.1|\[::1\]):\d+$/.test(addr)) {
    checks.push(
      fail(
        'ui',
        'ui-loopback',
        'the approval UI binds to loopback',
        `CLOSEDPAW_UI_ADDR=${addr}: set it to 127.0.0.1:PORT and use closedpaw ui`,
      ),
    );
  } else checks.push(ok('ui', 'ui-loopback', `the approval UI binds to loopback (${addr})`));
  if (reach) {
    const open = Object.entries(reach.external).filter(([, r]) => r === 'open');
    if (open.length > 0) {
      checks.push(
        fail(
          'ui',
          'ui-reach',
          'the approval UI is reachable only on the pod’s loopback',
          `it answers on ${open.map(([a]) => a).join(', ')}: something forwards it; remove that`,
        ),
      );
    } else if (reach.loopback !== 'open') {
      checks.push(
        warn(
          'ui',
          'ui-reach',
          'the approval UI listens',
          `127.0.0.1 in the pod answered ${reach.loopback}: see the operator log`,
        ),
      );
    } else checks.push(ok('ui', 'ui-reach', 'the approval UI answers on the pod’s loopback only'));
  }
  if (exposingServices.length > 0) {
    checks.push(
      fail(
        'ui',
        'ui-service',
        'no Service exposes the approval UI',
        `${exposingServices.join(', ')} target the UI port: delete them and use closedpaw ui`,
      ),
    );
  }
  return checks;
}

/**
 * With approval channels on, the UI confirms chat pairing codes as its approver, which works only when
 * that approver may pair (CLOSEDPAW_CHANNEL_USERS); undefined when there is nothing to say.
 */
export function judgeUiPairing(env: Record<string, string | undefined>): Check | undefined {
  const approver = env.CLOSEDPAW_UI_APPROVER?.trim();
  const channelsOn = (env.CLOSEDPAW_CHANNELS ?? '').trim() !== '';
  if (!channelsOn || !approver || env.CLOSEDPAW_UI_ADDR === 'off') return undefined;
  const pairers = (env.CLOSEDPAW_CHANNEL_USERS ?? '').split(',').map((u) => u.trim());
  if (pairers.includes(approver)) {
    return ok('ui', 'ui-pairing', `the UI confirms chat pairing codes as ${approver}`);
  }
  return warn(
    'ui',
    'ui-pairing',
    'the UI can confirm chat pairing codes',
    `its approver ${approver} is not in CLOSEDPAW_CHANNEL_USERS, so every pairing from the UI is refused: add them to channels.users, or pair with closedpaw channel pair`,
  );
}

export function judgeUiToken(
  source: { kind: 'secret'; secret: string; found: boolean } | { kind: 'none'; why: string } | undefined,
): Check | undefined {
  if (!source) return undefined;
  if (source.kind === 'none') return warn('ui', 'ui-token', 'the UI token comes from a Secret', source.why);
  if (!source.found)
    return fail(
      'ui',
      'ui-token',
      `the UI token Secret ${source.secret} exists`,
      'the operator cannot start its UI without it: create it or unset uiTokenSecret',
    );
  return ok('ui', 'ui-token', `the UI token comes from Secret ${source.secret}`);
}
