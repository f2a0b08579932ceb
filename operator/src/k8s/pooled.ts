/**
 * @kubernetes/client-node 2.x builds a new undici Agent for every request, so
 * each API call opens (and leaves idle) its own TLS connection: slow, and the
 * idle sockets and TLS state pile up in native memory. This wraps a KubeConfig
 * so every API client made from it shares one keep-alive Agent, created once
 * by client-node itself from the same cluster and user settings.
 */
import type { KubeConfig } from '@kubernetes/client-node';

type AuthContext = Parameters<KubeConfig['applySecurityAuthentication']>[0];

export function withPooledConnections(kubeConfig: KubeConfig): KubeConfig {
  let dispatcher: ReturnType<AuthContext['getDispatcher']> | undefined;
  const pooled = Object.create(kubeConfig) as KubeConfig;
  pooled.applySecurityAuthentication = async (context: AuthContext) => {
    await kubeConfig.applySecurityAuthentication(context);
    dispatcher ??= context.getDispatcher();
    if (dispatcher) context.setDispatcher(dispatcher);
  };
  return pooled;
}
