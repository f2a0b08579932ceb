/**
 * `closedpaw doctor [--pre]`: reads the cluster, runs the NetworkPolicy probe and the in-pod checks, and
 * prints the verdicts (judge.ts) grouped by category, linkerd-check style. × anywhere: exit 1.
 * `--pre` runs only what matters before an install (cluster, runtime, network).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AdmissionregistrationV1Api,
  AuthorizationV1Api,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  type KubeConfig,
  NodeV1Api,
  type V1CustomResourceDefinition,
  type V1Namespace,
  type V1ValidatingAdmissionPolicy,
  VersionApi,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { buildCrd, RESOURCE_DEFINITIONS } from '../../api/crd.ts';
import { AGENT_TASK, GROUP, VERSION } from '../../api/meta.ts';
import type { AgentTask } from '../../api/types.ts';
import { PAIRING_POLICY_NAME } from '../../channels/pairing-resource.ts';
import { statusCode } from '../../k8s/errors.ts';
import { type CliIo, durationOption, explainApiError, runVerb, UsageError } from '../common.ts';
import { packageRoot } from '../helm.ts';
import {
  DEFAULT_NAMESPACE,
  envValue,
  findOperator,
  type OperatorLocation,
  operatorPods,
  podProblem,
  podReady,
} from '../operator-location.ts';
import { uiPort, uiTokenSource } from '../ui.ts';
import { type Check, exitCode, fail, ok, renderJson, renderText, warn } from './checks.ts';
import { runInPod } from './in-pod.ts';
import * as judge from './judge.ts';
import { probeChecks, runProbe } from './probe.ts';

export const DOCTOR_USAGE = `usage: closedpaw doctor [--pre] [-n NS] [-o json] [probe options]
  Checks the cluster, the sandbox runtime, the network, the model, the operator, the audit log and the
  UI; each check is √ (fine), ‼ (a warning, with what to do) or × (broken: exit 1).
  --pre                 only the checks that matter before closedpaw up (cluster, runtime, network)
  -n, --namespace NS    the operator's namespace (default ${DEFAULT_NAMESPACE})
  -o, --output FORMAT   text (default) or json
  --skip-probe          do not run the NetworkPolicy probe pods
  --probe-image IMAGE   image with ${'/usr/local/bin/closedpaw-probe'} (default: the operator's runner image,
                        or closedpaw/runner:0.1.0)
  --probe-namespace NS  run the probe pods in this existing namespace (default: a throwaway one)
  --probe-timeout D     give up on the probe after D (default 60s); without a node it says so at once
The probe starts three small pods in a throwaway namespace: a target, a client with no policy (must
reach it) and a client under a deny-all-egress NetworkPolicy (must not). It contacts no other address.
exit codes: 0 nothing failed, 1 a check failed (×), 2 usage error`;

export const OPTIONS = {
  pre: { type: 'boolean', default: false },
  namespace: { type: 'string', short: 'n' },
  output: { type: 'string', short: 'o' },
  'skip-probe': { type: 'boolean', default: false },
  'probe-image': { type: 'string' },
  'probe-namespace': { type: 'string' },
  'probe-timeout': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const DEFAULT_PROBE_IMAGE = 'closedpaw/runner:0.1.0';
const IN_POD_TIMEOUT_MS = 60_000;

/** The admission policies this CLI ships (crds/*.yaml), by name. */
export function expectedPolicies(dir = join(packageRoot(), 'crds')): V1ValidatingAdmissionPolicy[] {
  const policies: V1ValidatingAdmissionPolicy[] = [];
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  } catch {
    return policies;
  }
  for (const file of files.sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      const obj = doc.toJS() as V1ValidatingAdmissionPolicy | null;
      if (obj?.kind === 'ValidatingAdmissionPolicy') policies.push(obj);
    }
  }
  return policies;
}

interface DoctorOptions {
  pre: boolean;
  namespace: string;
  probe: { skip: boolean; image?: string; namespace?: string; timeoutMs: number };
}

const orUndefined = async <T>(p: Promise<T>): Promise<T | undefined> => {
  try {
    return await p;
  } catch (error) {
    if (statusCode(error) === 404) return undefined;
    throw error;
  }
};

/** The user the operator's pods authenticate as: their service account. */
const operatorUser = (operator: OperatorLocation) =>
  `system:serviceaccount:${operator.namespace}:${operator.deployment.spec?.template.spec?.serviceAccountName ?? 'default'}`;

/** Whether the operator runs with approval channels on (its CLOSEDPAW_CHANNELS names a platform). */
const channelsOn = (operator: OperatorLocation | undefined) =>
  (operator?.container.env ?? []).some(
    (e) => e.name === 'CLOSEDPAW_CHANNELS' && (e.value ?? '').trim() !== '',
  );

async function clusterChecks(
  kc: KubeConfig,
  o: DoctorOptions,
  operator: OperatorLocation | undefined,
): Promise<Check[]> {
  const checks: Check[] = [];
  // Raw JSON: client-node's models rename schema keys (default → _default, x-kubernetes-* → x_kubernetes_*).
  const raw = kc.makeApiClient(CustomObjectsApi);
  for (const def of RESOURCE_DEFINITIONS) {
    const expected = buildCrd(def) as Parameters<typeof judge.judgeCrd>[0];
    const installed = (await orUndefined(
      raw.getClusterCustomObject({
        group: 'apiextensions.k8s.io',
        version: 'v1',
        plural: 'customresourcedefinitions',
        name: expected.metadata!.name!,
      }),
    )) as V1CustomResourceDefinition | undefined;
    checks.push(judge.judgeCrd(expected, installed, o.pre));
  }
  const adm = kc.makeApiClient(AdmissionregistrationV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const bindings = (await adm.listValidatingAdmissionPolicyBinding()).items;
  for (const expected of expectedPolicies()) {
    const name = expected.metadata!.name!;
    const installed = await orUndefined(adm.readValidatingAdmissionPolicy({ name }));
    const mine = bindings.filter((b) => b.spec?.policyName === name);
    const facts: judge.PolicyFacts = {
      ...(installed ? { installed } : {}),
      bindings: [],
      // The chart installs the pairing policy only with approval channels on.
      ...(name === PAIRING_POLICY_NAME && !channelsOn(operator)
        ? { optional: 'approval channels are off' }
        : {}),
    };
    if (operator) facts.operatorUser = operatorUser(operator);
    for (const b of mine) {
      const ref = b.spec?.paramRef;
      const param =
        ref?.name && ref.namespace
          ? await orUndefined(core.readNamespacedConfigMap({ namespace: ref.namespace, name: ref.name }))
          : undefined;
      const paramFound = ref?.name && ref.namespace ? param !== undefined : undefined;
      const operators = param?.data?.operators;
      facts.bindings.push({
        name: b.metadata?.name ?? '?',
        ...(ref
          ? {
              paramRef: {
                ...(ref.name ? { name: ref.name } : {}),
                ...(ref.namespace ? { namespace: ref.namespace } : {}),
              },
            }
          : {}),
        ...(paramFound !== undefined ? { paramFound } : {}),
        ...(operators !== undefined ? { paramOperators: operators.split(',').map((u) => u.trim()) } : {}),
      });
    }
    checks.push(judge.judgePolicy(expected, facts, o.pre));
  }
  return checks;
}

/** Whether the user may install (asked with SelfSubjectAccessReviews, which anyone may create). */
async function installRights(kc: KubeConfig): Promise<Check[]> {
  const authz = kc.makeApiClient(AuthorizationV1Api);
  const wants: Array<[string, string, string]> = [
    ['create', 'apiextensions.k8s.io', 'customresourcedefinitions'],
    ['create', 'admissionregistration.k8s.io', 'validatingadmissionpolicies'],
    ['create', 'rbac.authorization.k8s.io', 'clusterroles'],
    ['create', '', 'namespaces'],
  ];
  const denied: string[] = [];
  for (const [verb, group, resource] of wants) {
    const review = await authz.createSelfSubjectAccessReview({
      body: { spec: { resourceAttributes: { verb, group, resource } } },
    });
    if (!review.status?.allowed) denied.push(`${verb} ${resource}`);
  }
  return [judge.judgeInstallRights(denied)];
}

/** Namespaces AgentTasks run in: the watched one, those holding tasks, those the chart labelled. */
async function agentNamespaces(kc: KubeConfig, watchNamespace: string | undefined): Promise<V1Namespace[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const names = new Set<string>();
  if (watchNamespace) names.add(watchNamespace);
  const tasks = await kc
    .makeApiClient(CustomObjectsApi)
    .listClusterCustomObject({ group: GROUP, version: VERSION, plural: AGENT_TASK.plural })
    .then((l) => (l as { items: AgentTask[] }).items)
    .catch(() => [] as AgentTask[]);
  for (const t of tasks) if (t.metadata.namespace) names.add(t.metadata.namespace);
  const labelled = await core.listNamespace({ labelSelector: 'closedpaw.dev/agents=true' });
  for (const ns of labelled.items) if (ns.metadata?.name) names.add(ns.metadata.name);
  const found: V1Namespace[] = [];
  for (const name of [...names].sort()) {
    const ns = await orUndefined(core.readNamespace({ name }));
    if (ns) found.push(ns);
  }
  return found;
}

async function runtimeAndNetworkChecks(
  kc: KubeConfig,
  o: DoctorOptions,
  operator: OperatorLocation | undefined,
): Promise<Check[]> {
  const checks: Check[] = [];
  const nodeApi = kc.makeApiClient(NodeV1Api);
  const gvisor = await orUndefined(nodeApi.readRuntimeClass({ name: 'gvisor' }));
  const kata = await orUndefined(nodeApi.readRuntimeClass({ name: 'kata-qemu' }));
  const handlers = envValue(operator?.container, 'CLOSEDPAW_SANDBOX_HANDLERS')?.split(',');
  checks.push(judge.judgeRuntimeClass('gvisor', gvisor, true, handlers));
  checks.push(judge.judgeRuntimeClass('kata-qemu', kata, false, handlers));
  const nodes = (await kc.makeApiClient(CoreV1Api).listNode()).items.map((n) => ({
    name: n.metadata?.name ?? '?',
    ready:
      !n.spec?.unschedulable &&
      (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
  }));
  checks.push(judge.judgeNodes(nodes));
  if (o.probe.skip) {
    checks.push(...probeChecks({ skipped: 'not run (--skip-probe)' }));
  } else {
    const image =
      o.probe.image ?? envValue(operator?.container, 'CLOSEDPAW_RUNNER_IMAGE') ?? DEFAULT_PROBE_IMAGE;
    const sandboxed = judge.judgeRuntimeClass('gvisor', gvisor, true, handlers).status === 'ok';
    const outcome = await runProbe(
      kc,
      {
        image,
        timeoutMs: o.probe.timeoutMs,
        ...(o.probe.namespace ? { namespace: o.probe.namespace } : {}),
        ...(sandboxed ? { runtimeClassName: 'gvisor' } : {}),
      },
      nodes.filter((n) => n.ready).length,
    );
    checks.push(...probeChecks(outcome));
  }
  checks.push(
    ...judge.judgePodSecurity(
      await agentNamespaces(kc, envValue(operator?.container, 'CLOSEDPAW_WATCH_NAMESPACE')),
    ),
  );
  return checks;
}

/** Pull-Job models: the chart's `ollama.models`. */
async function configuredModels(kc: KubeConfig, namespace: string): Promise<string[]> {
  const jobs = await kc
    .makeApiClient(BatchV1Api)
    .listNamespacedJob({ namespace })
    .catch(() => ({ items: [] }));
  const models = new Set<string>();
  for (const job of jobs.items) {
    if (job.spec?.template.metadata?.labels?.['app.kubernetes.io/name'] !== 'closedpaw-ollama-pull') continue;
    for (const c of job.spec.template.spec?.containers ?? []) {
      const i = c.command?.indexOf('pull') ?? -1;
      const model = i >= 0 ? c.command?.[i + 1] : undefined;
      if (model) models.add(model);
    }
  }
  return [...models];
}

async function operatorChecks(
  kc: KubeConfig,
  o: DoctorOptions,
  operator: OperatorLocation | undefined,
): Promise<Check[]> {
  if (!operator) return [judge.judgeOperatorReady(undefined, o.namespace)];
  const checks: Check[] = [];
  const core = kc.makeApiClient(CoreV1Api);
  const env = Object.fromEntries(
    (operator.container.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]),
  );
  const pods = await operatorPods(kc, operator);
  const ready = pods.find(podReady);
  checks.push(
    judge.judgeOperatorReady(
      {
        name: operator.name,
        namespace: operator.namespace,
        ready: Boolean(ready) && (operator.deployment.status?.availableReplicas ?? 0) > 0,
        problem: podProblem(pods[0]),
      },
      o.namespace,
    ),
  );
  const leaseRef = {
    namespace: env.CLOSEDPAW_LEASE_NAMESPACE ?? operator.namespace,
    name: env.CLOSEDPAW_LEASE_NAME ?? 'closedpaw-operator',
  };
  const lease = await orUndefined(kc.makeApiClient(CoordinationV1Api).readNamespacedLease(leaseRef));
  checks.push(
    judge.judgeLeader(
      lease,
      leaseRef,
      pods.map((p) => p.metadata?.name ?? ''),
      new Date(),
      env.CLOSEDPAW_LEADER_ELECTION !== 'false',
    ),
  );
  const gatewayName = env.CLOSEDPAW_GATEWAY_SERVICE ?? `${operator.name}-gateway`;
  const gatewayNs = env.CLOSEDPAW_GATEWAY_NAMESPACE ?? operator.namespace;
  const service = await orUndefined(core.readNamespacedService({ namespace: gatewayNs, name: gatewayName }));
  const slices = await kc.makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({
    namespace: gatewayNs,
    labelSelector: `kubernetes.io/service-name=${gatewayName}`,
  });
  const readyEndpoints = slices.items
    .flatMap((s) => s.endpoints ?? [])
    .filter((e) => e.conditions?.ready !== false).length;
  checks.push(judge.judgeGatewayService(service, readyEndpoints, `${gatewayNs}/${gatewayName}`));

  const inPod = ready
    ? await runInPod(
        kc,
        operator.namespace,
        ready.metadata!.name!,
        operator.container.name,
        IN_POD_TIMEOUT_MS,
      )
    : { problem: 'no Ready operator pod' };
  const report = 'report' in inPod ? inPod.report : undefined;
  if (!report && ready) {
    checks.push(
      warn(
        'operator',
        'in-pod',
        'checks from inside the operator pod ran',
        `${'problem' in inPod ? inPod.problem : ''}: they need "create pods/exec" in ${operator.namespace}`,
      ),
    );
  }
  checks.push(judge.judgeReadyz(report?.readyz));
  checks.push(
    ...judge.judgeGateway(
      report?.gateway.version,
      report?.gateway.version ? report.gateway.refused : undefined,
    ),
  );
  checks.push(...judge.judgeOverrides(env));
  checks.push(
    ...judge.judgeOllama(
      report?.ollama,
      await configuredModels(kc, operator.namespace),
      env.CLOSEDPAW_OLLAMA_URL ?? 'http://127.0.0.1:11434',
    ),
  );
  checks.push(...judge.judgeAudit(report?.readyz, report?.audit, env.CLOSEDPAW_AUDIT !== 'off'));

  const port = uiPort(operator.container);
  const services = await core.listNamespacedService({ namespace: operator.namespace });
  const exposing = port
    ? services.items
        .filter((s) =>
          (s.spec?.ports ?? []).some(
            (p) =>
              p.targetPort === port ||
              p.targetPort === 'ui' ||
              (p.port === port && p.targetPort === undefined),
          ),
        )
        .map((s) => s.metadata?.name ?? '?')
    : [];
  checks.push(...judge.judgeUiBinding(env.CLOSEDPAW_UI_ADDR, report?.ui, exposing));
  const pairing = judge.judgeUiPairing(env);
  if (pairing) checks.push(pairing);
  const source = uiTokenSource(operator.deployment, operator.container);
  const tokenCheck = judge.judgeUiToken(
    port === undefined
      ? undefined
      : source.kind === 'none'
        ? source
        : {
            kind: 'secret',
            secret: source.secret,
            found: await core
              .readNamespacedSecret({ namespace: operator.namespace, name: source.secret })
              .then(() => true)
              .catch((error: unknown) => statusCode(error) !== 404),
          },
  );
  if (tokenCheck) checks.push(tokenCheck);
  return checks;
}

export async function doctor(kc: KubeConfig, o: DoctorOptions): Promise<Check[]> {
  const server = kc.getCurrentCluster()?.server ?? '?';
  let version: { major: string; minor: string; gitVersion: string };
  try {
    version = await kc.makeApiClient(VersionApi).getCode();
  } catch (error) {
    return [
      fail('cluster', 'reachable', `the API server ${server} is reachable`, explainApiError(error, kc)),
    ];
  }
  const checks: Check[] = [
    ok('cluster', 'reachable', `the API server ${server} is reachable`),
    judge.judgeVersion(version),
  ];
  if (!checks.every((c) => c.status === 'ok')) return checks;
  // A check that cannot read what it needs has not passed: no RBAC is a ×, other errors a ‼.
  const guard = async (area: string, run: () => Promise<Check[]>): Promise<Check[]> => {
    try {
      return await run();
    } catch (error) {
      const explained = explainApiError(
        error,
        kc,
        `read what the ${area} checks need (cluster-wide get/list)`,
      );
      return [
        statusCode(error) === 403
          ? fail(
              'cluster',
              `rbac-${area.replace(/ /g, '-')}`,
              `you may read what the ${area} checks need`,
              explained,
            )
          : warn('cluster', `error-${area.replace(/ /g, '-')}`, `the ${area} checks ran`, explained),
      ];
    }
  };
  if (o.pre) checks.push(...(await guard('install rights', () => installRights(kc))));
  const operator = o.pre ? undefined : await findOperator(kc, o.namespace).catch(() => undefined);
  checks.push(...(await guard('cluster', () => clusterChecks(kc, o, operator))));
  checks.push(...(await guard('runtime and network', () => runtimeAndNetworkChecks(kc, o, operator))));
  if (!o.pre) checks.push(...(await guard('operator', () => operatorChecks(kc, o, operator))));
  return checks;
}

export function runDoctorCli(
  argv: string[],
  io: CliIo,
  deps: { kubeConfig?: KubeConfig } = {},
): Promise<number> {
  return runVerb(
    { name: 'doctor', usage: DOCTOR_USAGE, options: OPTIONS },
    argv,
    io,
    deps,
    async ({ values, positionals, kubeConfig }) => {
      if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
      const output = values.output ?? 'text';
      if (output !== 'text' && output !== 'json')
        throw new UsageError(`-o: unknown format "${output}"; use json`);
      const timeout = durationOption('--probe-timeout', values['probe-timeout'] ?? '60s', '60s', 1);
      const checks = await doctor(kubeConfig(), {
        pre: values.pre,
        namespace: values.namespace ?? DEFAULT_NAMESPACE,
        probe: {
          skip: values['skip-probe'],
          timeoutMs: timeout * 1000,
          ...(values['probe-image'] ? { image: values['probe-image'] } : {}),
          ...(values['probe-namespace'] ? { namespace: values['probe-namespace'] } : {}),
        },
      });
      io.stdout(output === 'json' ? renderJson(checks) : renderText(checks));
      return exitCode(checks);
    },
  );
}
