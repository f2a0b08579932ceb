/**
 * What a Helm release of the chart needs on the real node (test/node/e2e/helm-*.e2e.ts): the images by digest
 * (imported into the node's containerd when node:up did not), values for a node without a registry, storage
 * provisioner or cluster DNS, and hostPath PersistentVolumes pre-bound to the chart's claims.
 */
import { chown, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildImages, cacheRoot, defaultInputs, importImages, pinnedRef } from '../../hack/images/build.ts';
import { ollamaWithTestModel } from '../../hack/images/ollama-models.ts';
import { BIN, type NodeState } from '../../hack/node/node.ts';

export const NONROOT = 65532;
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Polls `probe` until it returns a value; throws naming `what` (and the last error) after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(500);
  }
  const why = last ? ` (last error: ${(last as Error).message})` : '';
  throw new Error(`${what}: not within ${seconds(timeoutMs)}${why}`);
}

export type ReleaseImages = Record<'operator' | 'runner' | 'ollama', string>;

/**
 * The chart's images as `<repository>@<digest>`: the runner from node:up, the operator (from dist/ and
 * ui/dist: build them first) and Ollama with the test model baked in, built offline and imported here unless
 * node:up already did.
 */
export async function releaseImages(state: NodeState): Promise<ReleaseImages> {
  const missing = (['operator', 'ollama'] as const).filter((n) => !state.images[n]);
  const built: Partial<ReleaseImages> = {};
  if (missing.length > 0) {
    const ollama = missing.includes('ollama')
      ? await ollamaWithTestModel(join(cacheRoot(), 'images'))
      : undefined;
    const images = await buildImages(
      missing,
      defaultInputs(ollama ? { ollamaBinary: ollama.binary, ollamaModels: ollama.models } : {}),
    );
    await importImages(BIN.ctr, state.containerdSocket, images);
    for (const image of images) built[image.name as 'operator' | 'ollama'] = pinnedRef(image);
  }
  const pinned = (n: keyof ReleaseImages) => {
    const ref = built[n] ?? state.images[n]?.pinned;
    if (!ref) throw new Error(`no ${n} image on the node`);
    return ref;
  };
  return { operator: pinned('operator'), runner: pinned('runner'), ollama: pinned('ollama') };
}

export const byDigest = (ref: string) => {
  const at = ref.indexOf('@');
  if (at < 0) throw new Error(`${ref} is not <repository>@<digest>`);
  return { repository: ref.slice(0, at), digest: ref.slice(at + 1) };
};

export interface ReleaseOptions {
  images: ReleaseImages;
  agentNamespace: string;
  /** A free ClusterIP: the node has no cluster DNS, so the gateway addresses Ollama by IP. */
  ollamaIp: string;
  storageClass: string;
}

/** Values for the real node: images by digest, gVisor for the chart's own pods, the baked-in model. */
export function releaseValues(o: ReleaseOptions) {
  return {
    image: { ...byDigest(o.images.operator), pullPolicy: 'IfNotPresent' },
    runner: { image: byDigest(o.images.runner) },
    runtimeClassName: 'gvisor',
    ollama: {
      enabled: true,
      image: { ...byDigest(o.images.ollama), pullPolicy: 'IfNotPresent' },
      binary: '/usr/local/bin/ollama',
      runtimeClassName: 'gvisor',
      service: { port: 11434, clusterIP: o.ollamaIp },
      // The model is baked into the image at /models.
      persistence: { enabled: false },
      resources: { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m', memory: '1Gi' } },
    },
    agentNamespaces: [o.agentNamespace],
    persistence: { storageClassName: o.storageClass, checkpoints: { storageClassName: o.storageClass } },
    tests: { expectNetworkPolicyEnforcement: true },
  };
}

/**
 * hostPath PersistentVolumes (directories under `root`, owned by the operator's uid: hostPath volumes get no
 * fsGroup) pre-bound to `claims` in `namespace`, labelled `closedpaw.dev/test=<label>` for cleanup.
 */
export async function hostPathVolumes(o: {
  root: string;
  namespace: string;
  storageClass: string;
  label: string;
  claims: [name: string, size: string][];
}): Promise<{ dirs: Record<string, string>; objects: object[] }> {
  const dirs: Record<string, string> = {};
  const objects = [];
  for (const [claim, size] of o.claims) {
    const dir = join(o.root, claim);
    await mkdir(dir, { recursive: true });
    await chown(dir, NONROOT, NONROOT);
    dirs[claim] = dir;
    objects.push({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `${o.namespace}-${claim}`, labels: { 'closedpaw.dev/test': o.label } },
      spec: {
        capacity: { storage: size },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: o.storageClass,
        claimRef: { namespace: o.namespace, name: claim },
        hostPath: { path: dir, type: 'Directory' },
      },
    });
  }
  return { dirs, objects };
}
