/**
 * The task's NetworkPolicy: selects only this task's pod, denies all ingress,
 * allows egress only to Ollama (in-cluster pods or one /32), and DNS only when configured.
 */
import type { V1NetworkPolicy, V1NetworkPolicyEgressRule } from '@kubernetes/client-node';
import type { AgentTask } from '../api/types.ts';
import type { OllamaEgress } from '../config.ts';
import {
  childLabels,
  controllerReference,
  FINALIZER,
  networkPolicyName,
  podSelectorLabels,
} from './names.ts';

export interface NetworkPolicyConfig {
  ollama: OllamaEgress;
  allowDns: boolean;
}

function ollamaRule(ollama: OllamaEgress): V1NetworkPolicyEgressRule {
  const ports = [{ protocol: 'TCP', port: ollama.port }];
  if (ollama.ip) return { to: [{ ipBlock: { cidr: `${ollama.ip}/32` } }], ports };
  return {
    to: [
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ollama.namespace } },
        podSelector: { matchLabels: ollama.podSelector },
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
      egress: config.allowDns ? [ollamaRule(config.ollama), dnsRule] : [ollamaRule(config.ollama)],
    },
  };
}
