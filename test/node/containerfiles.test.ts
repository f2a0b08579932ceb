/** The Containerfiles (Docker/Podman) and the offline builder's specs describe the same images. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { IMAGES } from '../../hack/images/images.ts';

interface FinalStage {
  copies: string[];
  user?: string;
  workdir?: string;
  entrypoint?: string[];
  env: string[];
}

/** The last stage of a Containerfile: COPY destinations, USER, WORKDIR, ENTRYPOINT (exec form), ENV. */
export function finalStage(text: string): FinalStage {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim());
  const stage: FinalStage = { copies: [], env: [] };
  for (const line of lines) {
    const [instruction, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    switch (instruction?.toUpperCase()) {
      case 'FROM':
        Object.assign(stage, {
          copies: [],
          env: [],
          user: undefined,
          workdir: undefined,
          entrypoint: undefined,
        });
        break;
      case 'COPY':
        stage.copies.push(rest.filter((a) => !a.startsWith('--')).at(-1)!);
        break;
      case 'USER':
        stage.user = args;
        break;
      case 'WORKDIR':
        stage.workdir = args;
        break;
      case 'ENTRYPOINT':
        stage.entrypoint = JSON.parse(args) as string[];
        break;
      case 'ENV':
        stage.env.push(...(args.match(/\S+=\S+/g) ?? []));
        break;
    }
  }
  return stage;
}

for (const spec of Object.values(IMAGES)) {
  test(`${spec.containerfile} builds the same ${spec.name} image as the offline builder`, async () => {
    const stage = finalStage(
      await readFile(join(import.meta.dirname, '../../hack/images', spec.containerfile), 'utf8'),
    );
    assert.deepEqual(stage.entrypoint, spec.config.entrypoint, 'ENTRYPOINT');
    assert.equal(stage.user, spec.config.user, 'USER');
    assert.equal(stage.workdir, spec.config.workingDir, 'WORKDIR');
    assert.deepEqual([...stage.env].sort(), [...spec.config.env].sort(), 'ENV');
    assert.deepEqual([...stage.copies].sort(), [...spec.keyFiles].sort(), 'COPY destinations = key files');
  });
}

test('the parser reads the last stage only', () => {
  const stage = finalStage(
    'FROM a AS b\nCOPY x /early\nUSER 1\nFROM c\nCOPY --from=b /x /late\nENV A=1 B=2\nUSER 2:2\nENTRYPOINT ["/late"]\n',
  );
  assert.deepEqual(stage, {
    copies: ['/late'],
    env: ['A=1', 'B=2'],
    user: '2:2',
    workdir: undefined,
    entrypoint: ['/late'],
  });
});
