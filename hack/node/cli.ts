/**
 * `npm run node:up` / `node:down`: a real single-node cluster (kubelet +
 * containerd + gVisor + bridge CNI + kube-proxy + kube-router) on this machine.
 * `up` is idempotent and prints `KUBECONFIG=<path>` last; `down` prints what
 * it removed. Both need root.
 */
import { nodeDir } from './layout.ts';
import { runnerBundle, runningNode, startNode, stopNode } from './node.ts';

process.env.PATH = `/usr/local/sbin:/usr/sbin:/sbin:${process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`;

const seconds = (ms: number | undefined) => `${((ms ?? 0) / 1000).toFixed(1)} s`;

async function up(): Promise<void> {
  const dir = nodeDir();
  const running = await runningNode(dir);
  if (running) {
    console.log(`reusing the running node ${running.nodeName} (API server ${running.server})`);
    console.log(`KUBECONFIG=${running.kubeconfig}`);
    return;
  }
  const state = await startNode(dir);
  const t = state.timings;
  console.log(
    `node ${state.nodeName} Ready in ${seconds(t.up)} (binaries checked in ${seconds(t['build-check'])}, images ${seconds(t.images)})`,
  );
  for (const [component, pid] of Object.entries(state.pids)) {
    console.log(
      `  ${component.padEnd(24)} pid ${String(pid).padEnd(8)} ready after ${seconds(t[component])}`,
    );
  }
  console.log(`  images imported into containerd in ${seconds(t['image-import'])}:`);
  for (const image of Object.values(state.images)) console.log(`    ${image.pinned}`);
  if (state.runnerStandIn) {
    console.log(`  the runner image holds the stand-in ${runnerBundle().path}: dist/runner.js is not built`);
  }
  console.log(`state in ${dir} (logs in ${dir}/logs); containerd at ${state.containerdSocket}`);
  console.log(`KUBECONFIG=${state.kubeconfig}`);
}

async function down(): Promise<void> {
  const dir = nodeDir();
  const report = await stopNode(dir);
  console.log(report.length > 0 ? report.join('\n') : `no node in ${dir}; nothing to remove`);
}

const verb = process.argv[2];
try {
  if (verb === 'up') await up();
  else if (verb === 'down') await down();
  else throw new Error('usage: node hack/node/cli.ts up|down');
} catch (error) {
  console.error(`node ${verb}: ${(error as Error).message}`);
  process.exitCode = 1;
}
