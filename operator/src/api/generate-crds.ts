/**
 * Writes crds/*.yaml from the zod schemas. `--check` writes nothing and exits 1
 * when the committed files differ from what the schemas generate.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crdFileName, RESOURCE_DEFINITIONS, renderCrdYaml } from './crd.ts';

const CRD_DIR = join(import.meta.dirname, '../../../crds');

async function main(check: boolean): Promise<number> {
  let drifted = 0;
  for (const def of RESOURCE_DEFINITIONS) {
    const path = join(CRD_DIR, crdFileName(def));
    const wanted = renderCrdYaml(def);
    const current = await readFile(path, 'utf8').catch(() => '');
    if (current === wanted) continue;
    if (check) {
      console.error(`${path} is out of date with operator/src/api: run \`npm run crds\``);
      drifted++;
    } else {
      await writeFile(path, wanted);
      console.log(`wrote ${path}`);
    }
  }
  return drifted > 0 ? 1 : 0;
}

process.exitCode = await main(process.argv.includes('--check'));
