/**
 * The node cluster's kube-apiserver flags: the local control plane's
 * (hack/cluster/controlplane.ts apiServerArgs) with the changes a real node
 * needs — listen on the node IP, Node authorizer, kubelet client certificate,
 * and kubelets reached by InternalIP only (never a DNS lookup of the node name).
 */
import { apiServerArgs } from '../cluster/controlplane.ts';
import { NETWORK } from './layout.ts';
import type { NodePki } from './pki.ts';

type FlagChange = string | null | ((current: string | undefined) => string);

/**
 * Replaces `--name=value` flags by name (null removes one; a function gets the
 * current value, e.g. to extend a list), then appends flags not present before.
 */
export function withFlags(args: readonly string[], changes: Record<string, FlagChange>): string[] {
  const name = (arg: string) => arg.replace(/^--/, '').split('=')[0]!;
  const out: string[] = [];
  const applied = new Set<string>();
  for (const arg of args) {
    const flag = name(arg);
    if (!(flag in changes)) {
      out.push(arg);
      continue;
    }
    applied.add(flag);
    const change = changes[flag];
    const value = typeof change === 'function' ? change(arg.slice(arg.indexOf('=') + 1)) : change;
    if (value !== null && value !== undefined) out.push(`--${flag}=${value}`);
  }
  for (const [flag, change] of Object.entries(changes)) {
    if (applied.has(flag) || change === null) continue;
    out.push(`--${flag}=${typeof change === 'function' ? change(undefined) : change}`);
  }
  return out;
}

export function nodeApiServerArgs(state: { dir: string; etcdUrl: string }, pki: NodePki): string[] {
  const base = apiServerArgs(
    { dir: state.dir, etcdUrl: state.etcdUrl, apiServerPort: NETWORK.apiServerPort } as Parameters<
      typeof apiServerArgs
    >[0],
    pki,
  );
  return withFlags(base, {
    'bind-address': NETWORK.nodeIp,
    'advertise-address': NETWORK.nodeIp,
    'secure-port': String(NETWORK.apiServerPort),
    'tls-cert-file': pki.apiServerNodeCert,
    'tls-private-key-file': pki.apiServerNodeKey,
    'cert-dir': `${state.dir}/pki`,
    'authorization-mode': 'Node,RBAC',
    'enable-admission-plugins': (current) => [current, 'NodeRestriction'].filter(Boolean).join(','),
    'service-account-issuer': `https://${NETWORK.nodeIp}:${NETWORK.apiServerPort}`,
    'service-cluster-ip-range': NETWORK.serviceCidr,
    // The `kubernetes` Service must point at the API server (the control plane's default is none).
    'endpoint-reconciler-type': 'lease',
    'kubelet-client-certificate': pki.kubeletApiClientCert,
    'kubelet-client-key': pki.kubeletApiClientKey,
    'kubelet-certificate-authority': pki.caCert,
    'kubelet-preferred-address-types': 'InternalIP',
  });
}
