/**
 * The task's NetworkPolicy: selects only this task's pod, denies all ingress,
 * allows egress only to the model gateway (its pods, or one /32) on its port,
 * and DNS only when configured. Pods never reach Ollama itself.
 */
import type { V1NetworkPolicy, V1NetworkPolicyEgressRule } from '@kubernetes/client-node';
import type { AgentTask } from '../api/types.ts';
import type { GatewayEgress } from '../config.ts';
import {
  childLabels,
  controllerReference,
  FINALIZER,
  networkPolicyName,
  podSelectorLabels,
} from './names.ts';

export interface NetworkPolicyConfig {
  gateway: { egress: GatewayEgress };
  allowDns: boolean;
}

function gatewayRule(gateway: GatewayEgress): V1NetworkPolicyEgressRule {
  const ports = [{ protocol: 'TCP', port: gateway.port }];
  if (gateway.ip) return { to: [{ ipBlock: { cidr: `${gateway.ip}/32` } }], ports };
  return {
    to: [
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': gateway.namespace } },
        podSelector: { matchLabels: gateway.podSelector },
      },
    ],
    ports,
  };
}

const dnsRule: V1NetworkPolicyEgressRule = {
  to: [
    {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
      podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
    },
  ],
  ports: [
    { protocol: 'UDP', port: 53 },
    { protocol: 'TCP', port: 53 },
  ],
};

export function buildNetworkPolicy(task: AgentTask, config: NetworkPolicyConfig): V1NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: networkPolicyName(task),
      namespace: task.metadata.namespace!,
      labels: childLabels(task),
      ownerReferences: [controllerReference(task)],
      finalizers: [FINALIZER],
    },
    spec: {
      podSelector: { matchLabels: podSelectorLabels(task) },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [],
      egress: config.allowDns
        ? [gatewayRule(config.gateway.egress), dnsRule]
        : [gatewayRule(config.gateway.egress)],
    },
  };
}

/**
 * Drops what the API server leaves out when it is empty (null fields and empty lists: Go's omitempty),
 * so a stored spec compares equal to a built one. Empty objects stay: `ingress: [{}]` allows everything.
 */
function normalised(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalised);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0))
      .map(([k, v]) => [k, normalised(v)] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries);
  }
  return value;
}

/** True when a stored policy spec says the same as the one the operator would write. */
export const samePolicySpec = (stored: unknown, desired: unknown) =>
  JSON.stringify(normalised(stored ?? {})) === JSON.stringify(normalised(desired ?? {}));
