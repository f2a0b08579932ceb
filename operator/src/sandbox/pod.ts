/**
 * The sandbox Pod, hardened on every path. This is the one place the hardening
 * list lives; pod.test.ts checks it field by field.
 */
import type { V1Container, V1Pod, V1SecurityContext } from '@kubernetes/client-node';
import { POD_PATHS, RUNNER_ENV } from '../api/agent-protocol.ts';
import type { AgentTask } from '../api/types.ts';
import { canonicalSpecJson, specDigest } from '../policy/digest.ts';
import {
  ANNOTATION_GATEWAY_TOKEN,
  ANNOTATION_TASK_SPEC,
  childLabels,
  controllerReference,
  podName,
} from './names.ts';

export const ANNOTATION_SPEC_DIGEST = 'closedpaw.dev/spec-digest';
export const AGENT_CONTAINER = 'agent';
export const WORKSPACE_PATH = POD_PATHS.workspace;
export const TASK_DIR = POD_PATHS.taskDir;
export const TASK_FILE = POD_PATHS.taskFile;

export const ISOLATION_CHECK_CONTAINER = 'isolation-check';
/** The probe in the runner image that proves the NetworkPolicy holds before agent code runs. */
export const ISOLATION_PROBE = '/usr/local/bin/closedpaw-probe';
export const ISOLATION_CHECK_TIMEOUT_MS = 10_000;

export interface PodConfig {
  runnerImage: string;
  runnerUid: number;
  /** The model gateway as pods reach it (the only address their NetworkPolicy allows). */
  gatewayUrl: string;
  /**
   * `ip:port` addresses the pod's policy denies and that accept connections when nothing filters them
   * (e.g. the API server's ClusterIP): the init container must see each refused before the runner starts.
   */
  isolationProbes: string[];
}

const containerSecurityContext = (uid: number): V1SecurityContext => ({
  runAsNonRoot: true,
  runAsUser: uid,
  runAsGroup: uid,
  privileged: false,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
});

const limitsOf = (task: AgentTask) => {
  const { cpu, memory, ephemeralStorage } = task.spec.resources;
  return { cpu, memory, 'ephemeral-storage': ephemeralStorage };
};

/**
 * Runs first and fails the pod closed (exit 3, reason on its termination log) unless every probe address
 * is unreachable: NetworkPolicy enforcers apply a new pod's rules a moment after it starts, and no agent
 * code may run in that moment.
 */
function isolationCheck(task: AgentTask, config: PodConfig): V1Container {
  const limits = limitsOf(task);
  return {
    name: ISOLATION_CHECK_CONTAINER,
    image: config.runnerImage,
    imagePullPolicy: 'IfNotPresent',
    command: [
      ISOLATION_PROBE,
      'isolation-check',
      String(ISOLATION_CHECK_TIMEOUT_MS),
      ...config.isolationProbes,
    ],
    resources: { limits, requests: limits },
    securityContext: containerSecurityContext(config.runnerUid),
    terminationMessagePolicy: 'File',
  };
}

function agentContainer(task: AgentTask, config: PodConfig): V1Container {
  const limits = limitsOf(task);
  return {
    name: AGENT_CONTAINER,
    image: config.runnerImage,
    imagePullPolicy: 'IfNotPresent',
    command: ['node', POD_PATHS.runnerBundle],
    workingDir: WORKSPACE_PATH,
    env: [
      { name: RUNNER_ENV.taskFile, value: TASK_FILE },
      { name: RUNNER_ENV.workspace, value: WORKSPACE_PATH },
      { name: RUNNER_ENV.gatewayUrl, value: config.gatewayUrl },
      { name: RUNNER_ENV.tokenFile, value: POD_PATHS.tokenFile },
      { name: 'HOME', value: WORKSPACE_PATH },
      { name: 'TMPDIR', value: WORKSPACE_PATH },
    ],
    resources: { limits, requests: limits },
    securityContext: containerSecurityContext(config.runnerUid),
    volumeMounts: [
      { name: 'workspace', mountPath: WORKSPACE_PATH },
      { name: 'task', mountPath: TASK_DIR, readOnly: true },
    ],
    terminationMessagePolicy: 'File',
  };
}

/** `gatewayToken`: the task's capability token, projected read-only next to the task file. */
export function buildPod(task: AgentTask, config: PodConfig, gatewayToken = ''): V1Pod {
  if (config.isolationProbes.length === 0) {
    throw new Error('no isolation probe addresses: a sandbox pod cannot prove its NetworkPolicy holds');
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: podName(task),
      namespace: task.metadata.namespace!,
      labels: childLabels(task),
      annotations: {
        [ANNOTATION_TASK_SPEC]: canonicalSpecJson(task.spec),
        [ANNOTATION_SPEC_DIGEST]: specDigest(task.spec),
        [ANNOTATION_GATEWAY_TOKEN]: gatewayToken,
      },
      ownerReferences: [controllerReference(task)],
    },
    spec: {
      runtimeClassName: task.spec.runtimeClassName,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      restartPolicy: 'Never',
      activeDeadlineSeconds: task.spec.timeoutSeconds,
      terminationGracePeriodSeconds: 10,
      hostNetwork: false,
      hostPID: false,
      hostIPC: false,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: config.runnerUid,
        runAsGroup: config.runnerUid,
        fsGroup: config.runnerUid,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      initContainers: [isolationCheck(task, config)],
      containers: [agentContainer(task, config)],
      volumes: [
        { name: 'workspace', emptyDir: { sizeLimit: task.spec.resources.ephemeralStorage } },
        {
          name: 'task',
          downwardAPI: {
            defaultMode: 0o444,
            items: [
              {
                path: 'task.json',
                fieldRef: { fieldPath: `metadata.annotations['${ANNOTATION_TASK_SPEC}']` },
              },
              {
                path: 'token',
                fieldRef: { fieldPath: `metadata.annotations['${ANNOTATION_GATEWAY_TOKEN}']` },
              },
            ],
          },
        },
      ],
    },
  };
}
