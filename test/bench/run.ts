/**
 * `npm run bench`: runs every test/bench/*.bench.ts in turn. Each prints one
 * JSON object per line on stdout ({"metric", "value", "unit"}); progress goes
 * to stderr. Select some with `npm run bench -- operator`.
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

const dir = import.meta.dirname;
const only = process.argv.slice(2);
const files = (await readdir(dir))
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

let failed = 0;
for (const file of files) {
  process.stderr.write(`# bench ${file}\n`);
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [join(dir, file)], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('exit', (c) => resolve(c ?? 1));
  });
  if (code !== 0) {
    process.stderr.write(`# bench ${file} failed (exit ${code})\n`);
    failed++;
  }
}
process.exitCode = failed > 0 ? 1 : 0;
