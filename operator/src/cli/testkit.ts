/** Test doubles for the CLI verbs. */
import { KubeConfig } from '@kubernetes/client-node';

/** A kubeconfig whose current context points at `server`, in `namespace` when given. */
export function testKubeConfig(server: string, namespace?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'x' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u', ...(namespace ? { namespace } : {}) }],
    currentContext: 'ctx',
  });
  return kc;
}
