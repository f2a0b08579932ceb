import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { ociArchive, ociImage, sha256, type TarEntry, tar, withParents } from '../../hack/images/oci.ts';

const run = promisify(execFile);
const longName = `opt/${'deep/'.repeat(30)}file.txt`;
const entries: TarEntry[] = [
  { path: 'bin/tool', type: 'file', mode: 0o755, data: Buffer.from('#!/bin/sh\n') },
  { path: 'bin/sh', type: 'symlink', mode: 0o777, target: 'tool' },
  { path: 'workspace', type: 'dir', mode: 0o755, uid: 65532, gid: 65532 },
  { path: longName, type: 'file', mode: 0o644, data: Buffer.from('long') },
];
const config = { entrypoint: ['/bin/tool'], user: '65532:65532', env: ['PATH=/bin'], labels: { a: 'b' } };

test('tar output depends only on the entries, not their order', () => {
  assert.deepEqual(tar(withParents(entries)), tar(withParents([...entries].reverse())));
});

test('GNU tar reads our tar: modes, owners, symlinks, long paths, mtime 0', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oci-test-'));
  try {
    await writeFile(join(dir, 'layer.tar'), tar(withParents(entries)));
    const { stdout } = await run('tar', ['-tvf', join(dir, 'layer.tar'), '--numeric-owner']);
    assert.match(stdout, /^-rwxr-xr-x 0\/0 +10 1970-01-01 00:00 bin\/tool$/m);
    assert.match(stdout, /^lrwxrwxrwx 0\/0 +0 1970-01-01 00:00 bin\/sh -> tool$/m);
    assert.match(stdout, /^drwxr-xr-x 65532\/65532 +0 1970-01-01 00:00 workspace\/$/m);
    assert.ok(stdout.includes(longName), stdout);
    await run('tar', ['-xf', join(dir, 'layer.tar'), '-C', dir]);
    assert.equal(await readFile(join(dir, longName), 'utf8'), 'long');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('tar refuses absolute and duplicate paths', () => {
  assert.throws(() => tar([{ path: '/etc/passwd', type: 'file', mode: 0o644 }]), /relative/);
  assert.throws(
    () =>
      tar([
        { path: 'a', type: 'dir', mode: 0o755 },
        { path: 'a', type: 'dir', mode: 0o755 },
      ]),
    /twice/,
  );
});

test('the same inputs give the same image digest; a changed byte gives another', () => {
  const layer = tar(withParents(entries));
  const a = ociImage('localhost/x/y:1', [layer], config);
  const b = ociImage('localhost/x/y:1', [Buffer.from(layer)], config);
  assert.equal(a.manifestDigest, b.manifestDigest);
  assert.deepEqual(ociArchive(a), ociArchive(b));
  const changed = Buffer.from(layer);
  changed[600] = (changed[600]! + 1) % 256;
  assert.notEqual(ociImage('localhost/x/y:1', [changed], config).manifestDigest, a.manifestDigest);
});

test('the image is a valid OCI layout: blobs named by digest, diff_ids of the uncompressed layers', () => {
  const layer = tar(withParents(entries));
  const image = ociImage('localhost/closedpaw/test:0.1.0', [layer], config);
  for (const blob of image.blobs) assert.equal(sha256(blob.data), blob.digest);
  const manifest = JSON.parse(image.blobs.find((b) => b.digest === image.manifestDigest)!.data.toString());
  const cfg = JSON.parse(image.blobs.find((b) => b.digest === image.configDigest)!.data.toString());
  assert.equal(cfg.os, 'linux');
  assert.equal(cfg.architecture, 'amd64');
  assert.deepEqual(cfg.config.Entrypoint, ['/bin/tool']);
  assert.equal(cfg.config.User, '65532:65532');
  assert.deepEqual(cfg.rootfs.diff_ids, [sha256(layer)]);
  const gz = image.blobs.find((b) => b.digest === manifest.layers[0].digest)!.data;
  assert.deepEqual(gunzipSync(gz), layer);
  const index = JSON.parse(image.index.toString());
  assert.equal(index.manifests[0].digest, image.manifestDigest);
  assert.equal(index.manifests[0].annotations['io.containerd.image.name'], 'localhost/closedpaw/test:0.1.0');
});
