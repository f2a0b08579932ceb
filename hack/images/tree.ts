/** Turning files and directories on disk into tar entries with normalized modes and owners. */
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { TarEntry } from './oci.ts';

/** 0755 for executables and directories, 0644 otherwise: the builder's umask never leaks in. */
export const normalMode = (mode: number, isDir: boolean) => (isDir || (mode & 0o111) !== 0 ? 0o755 : 0o644);

const relative = (dest: string) => dest.replace(/^\/+/, '');

export async function fileEntry(source: string, dest: string, mode?: number): Promise<TarEntry> {
  const stat = await lstat(source).catch(() => undefined);
  if (!stat?.isFile()) throw new Error(`image input ${source} is missing or not a regular file`);
  return {
    path: relative(dest),
    type: 'file',
    mode: mode ?? normalMode(stat.mode, false),
    data: await readFile(source),
  };
}

export const textEntry = (dest: string, text: string, mode = 0o644): TarEntry => ({
  path: relative(dest),
  type: 'file',
  mode,
  data: Buffer.from(text, 'utf8'),
});

export const symlinkEntry = (dest: string, target: string): TarEntry => ({
  path: relative(dest),
  type: 'symlink',
  mode: 0o777,
  target,
});

export const dirEntry = (dest: string, mode = 0o755, uid = 0, gid = 0): TarEntry => ({
  path: relative(dest),
  type: 'dir',
  mode,
  uid,
  gid,
});

/** Every file, directory and symlink under `source`, placed under `dest`; `skip` gets paths relative to `source`. */
export async function treeEntries(
  source: string,
  dest: string,
  skip: (relativePath: string) => boolean = () => false,
): Promise<TarEntry[]> {
  const root = await lstat(source).catch(() => undefined);
  if (!root?.isDirectory()) throw new Error(`image input directory ${source} is missing`);
  const entries: TarEntry[] = [dirEntry(dest)];
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(join(source, rel))).sort();
    for (const name of names) {
      const childRel = rel ? `${rel}/${name}` : name;
      if (skip(childRel)) continue;
      const full = join(source, childRel);
      const target = posix.join(dest, childRel);
      const stat = await lstat(full);
      if (stat.isDirectory()) {
        entries.push(dirEntry(target));
        await walk(childRel);
      } else if (stat.isSymbolicLink()) {
        entries.push(symlinkEntry(target, await readlink(full)));
      } else if (stat.isFile()) {
        entries.push({
          path: relative(target),
          type: 'file',
          mode: normalMode(stat.mode, false),
          data: await readFile(full),
        });
      }
    }
  };
  await walk('');
  return entries;
}
