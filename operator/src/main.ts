/** `npm run operator`: runs the operator against $KUBECONFIG (or the in-cluster config). */
import { ConfigError, loadConfig } from './config.ts';
import { KubeconfigError, loadKubeConnection } from './k8s/kubeconfig.ts';
import type { KubeConnection } from './k8s/rest.ts';
import { createLogger } from './logger.ts';
import { startOperator } from './operator.ts';
import { PreflightError } from './preflight.ts';

function loadKubeConfig(): KubeConnection {
  const connection = loadKubeConnection();
  if (!connection) {
    throw new ConfigError(
      'no Kubernetes cluster configured: set KUBECONFIG (e.g. from `npm run cluster:up`)',
    );
  }
  return connection;
}

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  let kubeConfig: KubeConnection;
  try {
    config = loadConfig();
    kubeConfig = loadKubeConfig();
  } catch (error) {
    if (!(error instanceof ConfigError || error instanceof KubeconfigError)) throw error;
    console.error(`closedpaw-operator: ${error.message}`);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel);
  logger.info({ cluster: kubeConfig.getCurrentCluster()?.server, identity: config.identity }, 'starting');
  let operator: Awaited<ReturnType<typeof startOperator>>;
  try {
    operator = await startOperator(config, kubeConfig, logger, { onLostLease: () => process.exit(1) });
  } catch (error) {
    if (!(error instanceof PreflightError)) throw error;
    logger.fatal({ err: error.message }, 'cannot start');
    console.error(`closedpaw-operator: ${error.message}`);
    process.exit(2);
  }
  // The URL carries the session token: shown once on an interactive terminal, never through the logger,
  // and never into container logs (in a cluster the token comes from CLOSEDPAW_UI_TOKEN's Secret).
  if (operator.uiUrl) {
    const shown = process.stderr.isTTY
      ? operator.uiUrl
      : `${new URL(operator.uiUrl).origin}/ (token: CLOSEDPAW_UI_TOKEN)`;
    process.stderr.write(`approval UI: ${shown}\n`);
  }
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    operator.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

await main();
