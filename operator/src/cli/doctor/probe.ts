/**
 * The NetworkPolicy enforcement probe: a throwaway namespace with three small pods running
 * `closedpaw-probe` (in the runner image): a target that serves a TCP port, a client with no policy that
 * must reach it (the control: pod networking works), and a client under a deny-all-egress policy that
 * must not (`isolation-check`, the same gate every sandbox pod passes). The only address ever contacted is
 * the target pod's IP, read from the API server: never a public address. Bounded by a timeout; with no
 * node able to run the pods it says so instead of waiting.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, type KubeConfig, NetworkingV1Api, type V1Pod } from '@kubernetes/client-node';
import { statusCode } from '../../k8s/errors.ts';
import { type Check, fail, ok, warn } from './checks.ts';

export const PROBE_BINARY = '/usr/local/bin/closedpaw-probe';
export const PROBE_PORT = 8080;
const ROLE = 'closedpaw.dev/doctor-role';

export interface ProbeOptions {
  image: string;
  /** An existing namespace to use (its pods are deleted after); default: a new throwaway namespace. */
  namespace?: string;
  timeoutMs: number;
  /** RuntimeClass of the probe pods (gvisor when it is a sandbox: then the probe also proves gVisor). */
  runtimeClassName?: string;
}

export type ProbeOutcome =
  | { kind: 'enforced'; gvisor?: boolean; detail: string }
  | { kind: 'not-enforced'; detail: string }
  | { kind: 'inconclusive'; reason: 'no-node' | 'image' | 'control' | 'address' | 'error'; detail: string };

/** What the three pods reported. */
export interface ProbeReport {
  targetIp: string;
  allowedLog: string;
  deniedLog: string;
  deniedExitCode: number | undefined;
  deniedMessage?: string;
  runtimeClassName?: string;
}

/** Private and shared address space: the only kind a pod IP may be for the probe to dial it. */
export function isPrivateAddress(ip: string): boolean {
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return (
      a === 10 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  return /^f[cd][0-9a-f]{2}:/i.test(ip);
}

/** The verdict from what the pods printed (pure). */
export function probeVerdict(r: ProbeReport): ProbeOutcome {
  const target = `${r.targetIp}:${PROBE_PORT}`;
  if (!r.allowedLog.includes(`connect ${target} open`)) {
    const said = r.allowedLog.split('\n').find((l) => l.startsWith('connect')) ?? 'nothing';
    return {
      kind: 'inconclusive',
      reason: 'control',
      detail: `the control pod (no policy) could not reach the target either (${said}): pod networking or another NetworkPolicy is in the way`,
    };
  }
  const gvisor = r.runtimeClassName ? /gVisor/.test(r.allowedLog) : undefined;
  const extra = gvisor === undefined ? {} : { gvisor };
  if (r.deniedExitCode === 0 && /isolation-check proven/.test(r.deniedLog)) {
    return {
      kind: 'enforced',
      ...extra,
      detail: `a deny-all-egress pod could not reach ${target}; a pod without a policy could`,
    };
  }
  if (
    r.deniedExitCode === 3 ||
    /isolation-check failed|still reachable/.test(`${r.deniedLog}\n${r.deniedMessage ?? ''}`)
  ) {
    return {
      kind: 'not-enforced',
      detail: `a pod under a deny-all-egress NetworkPolicy still reached ${target} after 10 s`,
    };
  }
  return {
    kind: 'inconclusive',
    reason: 'error',
    detail: `the denied pod ended with ${r.deniedExitCode ?? 'no exit code'}: ${(r.deniedMessage ?? r.deniedLog).trim().slice(0, 200)}`,
  };
}

export function probeChecks(outcome: ProbeOutcome | { skipped: string }): Check[] {
  if ('skipped' in outcome) {
    return [warn('network', 'netpol-enforced', 'NetworkPolicies are enforced', outcome.skipped)];
  }
  switch (outcome.kind) {
    case 'enforced': {
      const checks = [
        ok('network', 'netpol-enforced', 'NetworkPolicies are enforced (probe pods)', outcome.detail),
      ];
      if (outcome.gvisor === true)
        checks.push(
          ok(
            'runtime',
            'sandbox-proven',
            'a probe pod of RuntimeClass gvisor runs in gVisor (its kernel log says so)',
          ),
        );
      if (outcome.gvisor === false) {
        checks.push(
          fail(
            'runtime',
            'sandbox-proven',
            'a probe pod of RuntimeClass gvisor runs in gVisor',
            "its kernel log shows no gVisor: the class's handler does not start a gVisor sandbox on this node; fix the node's runtime configuration",
          ),
        );
      }
      return checks;
    }
    case 'not-enforced':
      return [
        fail(
          'network',
          'netpol-enforced',
          'NetworkPolicies are enforced',
          `${outcome.detail}: the cluster's network plugin ignores NetworkPolicies (install one that enforces them, e.g. Calico, Cilium or kube-router); sandbox pods would fail their isolation check`,
        ),
      ];
    case 'inconclusive':
      return [
        warn('network', 'netpol-enforced', 'NetworkPolicies are enforced', `not proven: ${outcome.detail}`),
      ];
  }
}

const securityContext = {
  runAsNonRoot: true,
  runAsUser: 65532,
  runAsGroup: 65532,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** One probe pod (restricted Pod Security, tiny, bounded by activeDeadlineSeconds). */
export function probePod(name: string, role: string, args: string[], o: ProbeOptions, runId: string): V1Pod {
  const limits = { cpu: '50m', memory: '32Mi', 'ephemeral-storage': '16Mi' };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      labels: {
        'app.kubernetes.io/managed-by': 'closedpaw',
        'app.kubernetes.io/component': 'doctor',
        [ROLE]: role,
        'closedpaw.dev/doctor-run': runId,
      },
    },
    spec: {
      ...(o.runtimeClassName ? { runtimeClassName: o.runtimeClassName } : {}),
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      restartPolicy: 'Never',
      activeDeadlineSeconds: Math.ceil(o.timeoutMs / 1000) + 30,
      terminationGracePeriodSeconds: 1,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 65532,
        runAsGroup: 65532,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: 'probe',
          image: o.image,
          imagePullPolicy: 'IfNotPresent',
          command: [PROBE_BINARY, ...args],
          resources: { limits, requests: limits },
          securityContext,
        },
      ],
    },
  };
}

const terminated = (pod: V1Pod | undefined) => pod?.status?.containerStatuses?.[0]?.state?.terminated;

/** Why a pod does not run yet, when that is final enough to stop waiting (no node, bad image). */
function stuck(pod: V1Pod | undefined): ProbeOutcome | undefined {
  const waiting = pod?.status?.containerStatuses?.[0]?.state?.waiting;
  if (
    waiting &&
    /ErrImagePull|ImagePullBackOff|InvalidImageName|ErrImageNeverPull/.test(waiting.reason ?? '')
  ) {
    return {
      kind: 'inconclusive',
      reason: 'image',
      detail: `the probe image cannot be pulled (${waiting.reason}): pass --probe-image, any image with ${PROBE_BINARY} (the runner image has it)`,
    };
  }
  return undefined;
}

function pendingDetail(pod: V1Pod | undefined, seconds: number): ProbeOutcome {
  const cond = pod?.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  const why = cond
    ? `${cond.reason}: ${cond.message ?? ''}`
    : pod?.spec?.nodeName
      ? `on ${pod.spec.nodeName}, ${pod.status?.phase ?? 'Pending'}`
      : 'not scheduled';
  return {
    kind: 'inconclusive',
    reason: 'no-node',
    detail: `no node ran the probe pods within ${seconds}s (pod ${pod?.metadata?.name}: ${why.trim()})`,
  };
}

/** Runs the probe; cleans up after itself whatever happens. */
export async function runProbe(kc: KubeConfig, o: ProbeOptions, readyNodes: number): Promise<ProbeOutcome> {
  if (readyNodes === 0) {
    return {
      kind: 'inconclusive',
      reason: 'no-node',
      detail: 'no node can run the probe pods (the cluster has no Ready node)',
    };
  }
  const core = kc.makeApiClient(CoreV1Api);
  const net = kc.makeApiClient(NetworkingV1Api);
  const runId = randomBytes(3).toString('hex');
  const created = !o.namespace;
  const namespace = o.namespace ?? `closedpaw-doctor-${runId}`;
  const deadline = Date.now() + o.timeoutMs;
  const names = {
    target: `doctor-target-${runId}`,
    allowed: `doctor-allowed-${runId}`,
    denied: `doctor-denied-${runId}`,
  };
  try {
    if (created) {
      await core.createNamespace({
        body: {
          metadata: {
            name: namespace,
            labels: {
              'app.kubernetes.io/managed-by': 'closedpaw',
              'app.kubernetes.io/component': 'doctor',
              'pod-security.kubernetes.io/enforce': 'restricted',
            },
          },
        },
      });
    }
    await core.createNamespacedPod({
      namespace,
      body: probePod(names.target, 'target', ['serve', String(PROBE_PORT), 'closedpaw-doctor'], o, runId),
    });
    let target: V1Pod | undefined;
    for (;;) {
      target = await core.readNamespacedPod({ namespace, name: names.target });
      if (target.status?.phase === 'Running' && target.status.podIP) break;
      const bad = stuck(target);
      if (bad) return bad;
      if (terminated(target))
        return {
          kind: 'inconclusive',
          reason: 'error',
          detail: `the target pod ended: ${terminated(target)?.reason}`,
        };
      if (Date.now() >= deadline) return pendingDetail(target, Math.round(o.timeoutMs / 1000));
      await sleep(500);
    }
    const ip = target.status!.podIP!;
    if (!isPrivateAddress(ip)) {
      return {
        kind: 'inconclusive',
        reason: 'address',
        detail: `the target pod's IP ${ip} is not a private address: not probing it`,
      };
    }
    // The policy exists before the pod it selects.
    await net.createNamespacedNetworkPolicy({
      namespace,
      body: {
        metadata: {
          name: `doctor-deny-egress-${runId}`,
          labels: { 'app.kubernetes.io/component': 'doctor' },
        },
        spec: {
          podSelector: { matchLabels: { [ROLE]: 'denied', 'closedpaw.dev/doctor-run': runId } },
          policyTypes: ['Egress'],
          egress: [],
        },
      },
    });
    const args = o.runtimeClassName ? ['info', '--'] : [];
    await core.createNamespacedPod({
      namespace,
      body: probePod(
        names.allowed,
        'allowed',
        [...args, 'connect', ip, String(PROBE_PORT), '3000'],
        o,
        runId,
      ),
    });
    await core.createNamespacedPod({
      namespace,
      body: probePod(names.denied, 'denied', ['isolation-check', '10000', `${ip}:${PROBE_PORT}`], o, runId),
    });
    const ended: Record<string, V1Pod> = {};
    while (Object.keys(ended).length < 2) {
      for (const name of [names.allowed, names.denied]) {
        if (ended[name]) continue;
        const pod = await core.readNamespacedPod({ namespace, name });
        if (terminated(pod)) ended[name] = pod;
        else {
          const bad = stuck(pod);
          if (bad) return bad;
          if (Date.now() >= deadline) return pendingDetail(pod, Math.round(o.timeoutMs / 1000));
        }
      }
      if (Object.keys(ended).length < 2) await sleep(500);
    }
    const log = (name: string) =>
      core
        .readNamespacedPodLog({ namespace, name, container: 'probe', limitBytes: 64 * 1024 })
        .catch(() => '');
    const denied = terminated(ended[names.denied]);
    return probeVerdict({
      targetIp: ip,
      allowedLog: await log(names.allowed),
      deniedLog: await log(names.denied),
      deniedExitCode: denied?.exitCode,
      ...(denied?.message ? { deniedMessage: denied.message } : {}),
      ...(o.runtimeClassName ? { runtimeClassName: o.runtimeClassName } : {}),
    });
  } catch (error) {
    const code = statusCode(error);
    return {
      kind: 'inconclusive',
      reason: 'error',
      detail:
        code === 403
          ? `you may not create the probe's namespace, pods or NetworkPolicy (Forbidden): run as a cluster admin, or --skip-probe`
          : (error as Error).message,
    };
  } finally {
    if (created) await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    else {
      await core
        .deleteCollectionNamespacedPod({
          namespace,
          labelSelector: `closedpaw.dev/doctor-run=${runId}`,
          gracePeriodSeconds: 0,
        })
        .catch(() => undefined);
      await net
        .deleteCollectionNamespacedNetworkPolicy({
          namespace,
          labelSelector: 'app.kubernetes.io/component=doctor',
        })
        .catch(() => undefined);
    }
  }
}
