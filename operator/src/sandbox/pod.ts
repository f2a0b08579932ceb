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

export interface PodConfig {
  runnerImage: string;
  runnerUid: number;
  /** The model gateway as pods reach it (the only address their NetworkPolicy allows). */
  gatewayUrl: string;
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

function agentContainer(task: AgentTask, config: PodConfig): V1Container {
  const { cpu, memory, ephemeralStorage } = task.spec.resources;
  const limits = { cpu, memory, 'ephemeral-storage': ephemeralStorage };
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
