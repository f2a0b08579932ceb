/**
 * The addresses a sandbox pod's isolation check must find unreachable before its runner starts:
 * configured, or the API server's own ClusterIP (the `kubernetes` Service), which every pod could reach
 * without its NetworkPolicy and none may reach with it.
 */
import type { OperatorConfig } from './config.ts';
import type { ClusterClient } from './k8s/client.ts';

export async function isolationProbes(config: OperatorConfig, client: ClusterClient): Promise<string[]> {
  if (config.isolationProbes?.length) return config.isolationProbes;
  const service = await client.readService('default', 'kubernetes').catch((error: Error) => {
    throw new Error(
      `cannot read Service default/kubernetes to find an address sandbox pods must not reach (${error.message}): set CLOSEDPAW_ISOLATION_PROBES`,
    );
  });
  const ip = service.spec?.clusterIP;
  const port = service.spec?.ports?.find((p) => p.name === 'https')?.port ?? service.spec?.ports?.[0]?.port;
  if (!ip || ip === 'None' || !port) {
    throw new Error('Service default/kubernetes has no ClusterIP and port: set CLOSEDPAW_ISOLATION_PROBES');
  }
  return [`${ip}:${port}`];
}
