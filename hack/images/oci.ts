/**
 * Reproducible OCI images without Docker: a deterministic tar writer (sorted
 * entries, mtime 0, numeric owners, PAX records for long paths) and the OCI
 * image layout (blobs, manifest, config, index.json) packed into one archive
 * that `ctr images import` and `skopeo copy oci-archive:` read. Same inputs,
 * same bytes, same digests.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export interface TarEntry {
  /** Path inside the archive, without a leading slash; directories without a trailing one. */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  uid?: number;
  gid?: number;
  data?: Buffer;
  /** Symlink target. */
  target?: string;
}

export const sha256 = (data: Buffer | string): string =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

const BLOCK = 512;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function paxRecord(key: string, value: string): string {
  // The length prefix counts itself: grow it until it is stable.
  const body = ` ${key}=${value}\n`;
  let length = body.length + 1;
  while (`${length}${body}`.length !== length) length = `${length}${body}`.length;
  return `${length}${body}`;
}

function header(name: string, size: number, typeflag: string, entry: Partial<TarEntry>, linkname = '') {
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, 'utf8');
  block.write(octal(entry.mode ?? 0o644, 8), 100, 'ascii');
  block.write(octal(entry.uid ?? 0, 8), 108, 'ascii');
  block.write(octal(entry.gid ?? 0, 8), 116, 'ascii');
  block.write(octal(size, 12), 124, 'ascii');
  block.write(octal(0, 12), 136, 'ascii');
  block.write('        ', 148, 'ascii');
  block.write(typeflag, 156, 'ascii');
  block.write(linkname, 157, 100, 'utf8');
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

/** A POSIX tar of `entries`, sorted by path; bytes depend only on the entries. */
export function tar(entries: readonly TarEntry[]): Buffer {
  const seen = new Set<string>();
  const parts: Buffer[] = [];
  for (const entry of [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    if (entry.path.startsWith('/') || entry.path === '' || entry.path.endsWith('/')) {
      throw new Error(`tar entry path must be relative without a trailing slash: "${entry.path}"`);
    }
    if (seen.has(entry.path)) throw new Error(`tar entry "${entry.path}" appears twice`);
    seen.add(entry.path);
    const name = entry.type === 'dir' ? `${entry.path}/` : entry.path;
    const data = entry.type === 'file' ? (entry.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const linkname = entry.type === 'symlink' ? (entry.target ?? '') : '';
    const pax: string[] = [];
    if (Buffer.byteLength(name) > 99) pax.push(paxRecord('path', name));
    if (Buffer.byteLength(linkname) > 99) pax.push(paxRecord('linkpath', linkname));
    if (pax.length > 0) {
      const body = Buffer.from(pax.join(''), 'utf8');
      parts.push(header('PaxHeader', body.length, 'x', { mode: 0o644 }), body, padding(body.length));
    }
    const typeflag = entry.type === 'dir' ? '5' : entry.type === 'symlink' ? '2' : '0';
    parts.push(header(name.slice(0, 99), data.length, typeflag, entry, linkname.slice(0, 99)));
    parts.push(data, padding(data.length));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/** Adds the missing parent directories of `entries` (mode 0755, root-owned). */
export function withParents(entries: readonly TarEntry[]): TarEntry[] {
  const paths = new Set(entries.map((e) => e.path));
  const parents: TarEntry[] = [];
  for (const entry of entries) {
    const segments = entry.path.split('/');
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join('/');
      if (!paths.has(dir)) {
        paths.add(dir);
        parents.push({ path: dir, type: 'dir', mode: 0o755 });
      }
    }
  }
  return [...parents, ...entries];
}

export interface ImageConfig {
  entrypoint: string[];
  cmd?: string[];
  /** `uid:gid` */
  user: string;
  env: string[];
  workingDir?: string;
  labels: Record<string, string>;
}

export interface Blob {
  digest: string;
  data: Buffer;
}

export interface OciImage {
  /** Full reference the image is imported under, e.g. localhost/closedpaw/runner:0.1.0 */
  ref: string;
  manifestDigest: string;
  configDigest: string;
  /** Sum of compressed layer sizes. */
  compressedSize: number;
  uncompressedSize: number;
  blobs: Blob[];
  index: Buffer;
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');

/** Builds the image's blobs from uncompressed layer tars (gzip with a fixed header: no name, no mtime). */
export function ociImage(ref: string, layerTars: readonly Buffer[], config: ImageConfig): OciImage {
  const layers = layerTars.map((raw) => {
    const gz = gzipSync(raw, { level: 9 });
    return { raw, gz, diffId: sha256(raw), digest: sha256(gz) };
  });
  const configBlob = json({
    architecture: 'amd64',
    os: 'linux',
    created: '1970-01-01T00:00:00Z',
    config: {
      User: config.user,
      Env: config.env,
      Entrypoint: config.entrypoint,
      ...(config.cmd ? { Cmd: config.cmd } : {}),
      ...(config.workingDir ? { WorkingDir: config.workingDir } : {}),
      Labels: config.labels,
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  });
  const configDigest = sha256(configBlob);
  const manifestBlob = json({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: configDigest,
      size: configBlob.length,
    },
    layers: layers.map((l) => ({
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: l.digest,
      size: l.gz.length,
    })),
  });
  const manifestDigest = sha256(manifestBlob);
  const tag = ref.slice(ref.lastIndexOf(':') + 1);
  const index = json({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: manifestDigest,
        size: manifestBlob.length,
        platform: { architecture: 'amd64', os: 'linux' },
        annotations: { 'io.containerd.image.name': ref, 'org.opencontainers.image.ref.name': tag },
      },
    ],
  });
  return {
    ref,
    manifestDigest,
    configDigest,
    compressedSize: layers.reduce((n, l) => n + l.gz.length, 0),
    uncompressedSize: layers.reduce((n, l) => n + l.raw.length, 0),
    blobs: [
      ...layers.map((l) => ({ digest: l.digest, data: l.gz })),
      { digest: configDigest, data: configBlob },
      { digest: manifestDigest, data: manifestBlob },
    ],
    index,
  };
}

/** The OCI image layout of `image` as one tar archive (an "oci-archive"). */
export function ociArchive(image: OciImage): Buffer {
  const unique = new Map(image.blobs.map((b) => [b.digest, b.data]));
  return tar(
    withParents([
      { path: 'oci-layout', type: 'file', mode: 0o644, data: json({ imageLayoutVersion: '1.0.0' }) },
      { path: 'index.json', type: 'file', mode: 0o644, data: image.index },
      ...[...unique].map(
        ([digest, data]): TarEntry => ({
          path: `blobs/sha256/${digest.slice('sha256:'.length)}`,
          type: 'file',
          mode: 0o644,
          data,
        }),
      ),
    ]),
  );
}
