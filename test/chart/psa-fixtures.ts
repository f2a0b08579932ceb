/**
 * The upstream Pod Security Admission fixtures (k8s.io/pod-security-admission test/testdata/restricted), read
 * at test time from the Go module cache — the version hack/kube pins — and never copied into this repository.
 * Each fixture is a Pod that fails or passes the restricted profile; `asSandboxPod` completes one with what the
 * sandbox admission policy asks beyond restricted (sandbox RuntimeClass, no service-account token, read-only
 * root, cpu/memory limits) without touching any field the profile checks.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';

const MODULE = 'k8s.io/pod-security-admission';
const GO_MOD = join(import.meta.dirname, '../../hack/kube/go.mod');

/** The version hack/kube/go.mod pins the module to (its `replace` line). */
export function pinnedVersion(goMod: string = readFileSync(GO_MOD, 'utf8')): string {
  const match = new RegExp(
    `^replace ${MODULE.replaceAll('.', '\\.')} => ${MODULE.replaceAll('.', '\\.')} (v\\S+)$`,
    'm',
  ).exec(goMod);
  if (!match?.[1]) throw new Error(`hack/kube/go.mod does not pin ${MODULE} with a replace line`);
  return match[1];
}

/** Go's module cache: $GOMODCACHE, else $GOPATH/pkg/mod, else ~/go/pkg/mod (as `go env GOMODCACHE`). */
export function moduleCache(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GOMODCACHE) return env.GOMODCACHE;
  const gopath = env.GOPATH?.split(':')[0];
  return join(gopath || join(homedir(), 'go'), 'pkg', 'mod');
}

/** `restricted/vX.Y` directories, highest version first. */
const byVersionDescending = (a: string, b: string) => {
  const [am = 0, an = 0] = a.slice(1).split('.').map(Number);
  const [bm = 0, bn = 0] = b.slice(1).split('.').map(Number);
  return bm - am || bn - an;
};

export interface Fixture {
  /** e.g. `fail/hostpathvolumes0` */
  name: string;
  expect: 'fail' | 'pass';
  pod: Pod;
}

/** The restricted fixtures of the newest profile version the pinned module has. */
export function restrictedFixtures(): { dir: string; fixtures: Fixture[] } {
  const version = pinnedVersion();
  const root = join(moduleCache(), `${MODULE}@${version}`, 'test', 'testdata', 'restricted');
  if (!existsSync(root)) {
    throw new Error(
      `the Pod Security Admission fixtures are not in the Go module cache (${root}): run ` +
        `\`cd hack/kube && go mod download ${MODULE}\` (or the control-plane build, hack/build-kube.sh)`,
    );
  }
  const newest = readdirSync(root)
    .filter((d) => /^v\d+\.\d+$/.test(d))
    .sort(byVersionDescending)[0];
  if (!newest) throw new Error(`no restricted/vX.Y fixture directories in ${root}`);
  const dir = join(root, newest);
  const fixtures: Fixture[] = [];
  for (const expect of ['fail', 'pass'] as const) {
    for (const file of readdirSync(join(dir, expect)).sort()) {
      if (!file.endsWith('.yaml')) continue;
      const pod = parse(readFileSync(join(dir, expect, file), 'utf8')) as Pod;
      fixtures.push({ name: `${expect}/${file.slice(0, -5)}`, expect, pod });
    }
  }
  return { dir, fixtures };
}

export interface Container {
  name: string;
  securityContext?: Record<string, unknown>;
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  [field: string]: unknown;
}
export interface Pod {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string>; [field: string]: unknown };
  spec: {
    containers: Container[];
    initContainers?: Container[];
    runtimeClassName?: string;
    automountServiceAccountToken?: boolean;
    os?: { name: string };
    [field: string]: unknown;
  };
}

export const SANDBOX_LIMITS = { cpu: '100m', memory: '64Mi' } as const;

/**
 * The fixture as a pod for an agent namespace: the sandbox RuntimeClass, no service-account token, and in
 * every container a read-only root and cpu/memory limits — each only where the fixture leaves it unset, and
 * none of them a field the restricted profile checks. Windows pods cannot carry Linux security fields (the
 * API server refuses them), so they get only the pod-level fields. Names become DNS labels.
 */
export function asSandboxPod(fixture: Pod): Pod {
  const pod = structuredClone(fixture);
  pod.metadata.name = pod.metadata.name.replaceAll('_', '-');
  pod.spec.runtimeClassName ??= 'gvisor';
  pod.spec.automountServiceAccountToken ??= false;
  if (pod.spec.os?.name === 'windows') return pod;
  for (const container of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
    container.securityContext ??= {};
    container.securityContext.readOnlyRootFilesystem ??= true;
    container.resources ??= {};
    container.resources.limits ??= { ...SANDBOX_LIMITS };
  }
  return pod;
}
