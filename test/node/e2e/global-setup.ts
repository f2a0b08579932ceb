/**
 * node:test global setup for `npm run test:node`: brings the real node up
 * (reusing a running one) and, if it started it, takes it down afterwards.
 */
import { nodeDir } from '../../../hack/node/layout.ts';
import { runningNode, startNode, stopNode } from '../../../hack/node/node.ts';

let startedHere = false;

export async function globalSetup(): Promise<void> {
  process.env.PATH = `/usr/local/sbin:/usr/sbin:/sbin:${process.env.PATH ?? ''}`;
  if (await runningNode(nodeDir())) return;
  const started = Date.now();
  const state = await startNode(nodeDir());
  startedHere = true;
  console.error(
    `# node ${state.nodeName} up in ${((Date.now() - started) / 1000).toFixed(1)}s (KUBECONFIG=${state.kubeconfig})`,
  );
}

export async function globalTeardown(): Promise<void> {
  if (startedHere) await stopNode(nodeDir());
}
