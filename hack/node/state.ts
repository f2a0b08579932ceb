/** The node's processes, binaries and recorded state (<dir>/state.json), shared by start-up and teardown. */
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ImageName } from '../images/images.ts';
import { type Layout, layout } from './layout.ts';

export const HACK = resolve(import.meta.dirname, '..');
export const BIN = {
  kube: join(HACK, 'bin/closedpaw-kube'),
  kubectl: join(HACK, 'bin/kubectl'),
  containerd: join(HACK, 'bin/containerd'),
  ctr: join(HACK, 'bin/ctr'),
  runsc: join(HACK, 'bin/runsc'),
  shim: join(HACK, 'bin/containerd-shim-runsc-v1'),
  kubeRouter: join(HACK, 'bin/kube-router'),
};

/** Start order; node:down stops them in reverse (etcd last). */
export const COMPONENTS = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'containerd',
  'kubelet',
  'kube-proxy',
  'kube-router',
] as const;
export type Component = (typeof COMPONENTS)[number];

export interface NodeImage {
  ref: string;
  digest: string;
  /** <repository>@<digest>: what pods name. */
  pinned: string;
  compressedBytes: number;
}

export interface NodeState {
  dir: string;
  kubeconfig: string;
  server: string;
  etcdUrl: string;
  nodeName: string;
  containerdSocket: string;
  pids: Partial<Record<Component, number>>;
  images: Partial<Record<ImageName, NodeImage>>;
  /** True when the runner image holds hack/images/stand-in-runner.mjs (dist/runner.js was not built). */
  runnerStandIn: boolean;
  /** Milliseconds each start-up phase took. */
  timings: Record<string, number>;
}

export interface Baseline {
  outsidePaths: string[];
  sysctls: Record<string, string>;
  nftTables: string[];
  ipsets: string[];
  links: string[];
}

export const logPath = (l: Layout, component: Component) => join(l.logs, `${component}.log`);

export async function readState(dir: string): Promise<NodeState | undefined> {
  try {
    return JSON.parse(await readFile(layout(dir).state, 'utf8')) as NodeState;
  } catch {
    return undefined;
  }
}

let saving: Promise<void> = Promise.resolve();

/** Writes <dir>/state.json; writes are serialized (components start concurrently). */
export function saveState(state: NodeState): Promise<void> {
  const text = `${JSON.stringify(state, null, 2)}\n`;
  saving = saving.then(() => writeFile(layout(state.dir).state, text));
  return saving;
}

/** GET with a client certificate; resolves with the status code and body. */
