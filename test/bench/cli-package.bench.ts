// The npm package's size (npm pack of a staged copy with the proposed package.json, see test/cli/package.ts)
// and how long the built CLI takes to print its help. Prints one JSON object per line on stdout.
// Run: node test/bench/cli-package.bench.ts
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { packCli } from '../cli/package.ts';
import { percentile, report } from './report.ts';

const packed = await packCli();
try {
  report('cli_package_kb', packed.size / 1024, 'KiB');
  report('cli_package_unpacked_kb', packed.unpackedSize / 1024, 'KiB');
  report('cli_package_files', packed.files.length, 'files');
  // Start-up of the built CLI (what a user waits for on every command), on this process's Node.
  const main = join(packed.dir, 'stage/dist/cli/operator/src/cli/main.js');
  const samples: number[] = [];
  for (let i = 0; i < 7; i++) {
    const started = performance.now();
    const run = spawnSync(process.execPath, [main, '--help'], { stdio: 'ignore' });
    if (run.status !== 0) throw new Error(`closedpaw --help exited ${run.status}`);
    samples.push(performance.now() - started);
  }
  report('cli_help_ms_p50', percentile(samples, 50), 'ms');
} finally {
  await rm(packed.dir, { recursive: true, force: true });
}
