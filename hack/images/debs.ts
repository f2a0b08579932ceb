/**
 * Debian packages as image inputs: `apt-get download` into the cache (the
 * candidate version of the machine's apt lists), then `dpkg-deb -x`. The
 * package versions used are recorded in the image's labels, so the digest
 * changes exactly when a package does.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../cluster/processes.ts';
import { aptUpdate } from '../debian.ts';

export interface Deb {
  name: string;
  version: string;
  /** Where the package was unpacked (a temporary directory). */
  root: string;
}

async function run(command: string, args: string[], cwd?: string): Promise<string> {
  const result = await runCommand(command, args, cwd ? { cwd } : {});
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}

async function candidateVersion(name: string): Promise<string | undefined> {
  const version = /Candidate:\s*(\S+)/.exec(await run('apt-cache', ['policy', name]))?.[1];
  return version && version !== '(none)' ? version : undefined;
}

/** The version apt would download; a fresh machine has no package lists yet, so root refreshes them once. */
async function downloadableVersion(name: string): Promise<string> {
  const version = await candidateVersion(name);
  if (version) return version;
  await aptUpdate(`Debian package ${name} has no candidate version`, (m) =>
    process.stderr.write(`[images] ${m}\n`),
  );
  const refreshed = await candidateVersion(name);
  if (!refreshed)
    throw new Error(`Debian package ${name} has no candidate version even after apt-get update`);
  return refreshed;
}

/** Downloads (once) and unpacks `name`; call `cleanup` on the result's root when done. */
export async function unpackDeb(cacheDir: string, name: string): Promise<Deb> {
  const version = await downloadableVersion(name);
  const debDir = join(cacheDir, 'debs');
  await mkdir(debDir, { recursive: true });
  const fileVersion = version.replace(/:/g, '%3a');
  const existing = (await readdir(debDir)).find((f) => f.startsWith(`${name}_${fileVersion}_`));
  let file = existing ? join(debDir, existing) : undefined;
  if (!file) {
    await run('apt-get', ['download', `${name}=${version}`], debDir);
    const downloaded = (await readdir(debDir)).find((f) => f.startsWith(`${name}_${fileVersion}_`));
    if (!downloaded) throw new Error(`apt-get download ${name}=${version} left no .deb in ${debDir}`);
    file = join(debDir, downloaded);
  }
  const root = await mkdtemp(join(cacheDir, `unpack-${name}-`));
  await run('dpkg-deb', ['-x', file, root]);
  return { name, version, root };
}

/** The real file behind `path` inside an unpacked package (following the package's symlinks). */
export async function debFile(deb: Deb, path: string): Promise<string> {
  const full = join(deb.root, path);
  if (!existsSync(full)) throw new Error(`Debian package ${deb.name} ${deb.version} has no ${path}`);
  const real = await realpath(full);
  if (!real.startsWith(deb.root)) throw new Error(`${path} in ${deb.name} points outside the package`);
  return real;
}

export const cleanupDeb = (deb: Deb) => rm(deb.root, { recursive: true, force: true });
