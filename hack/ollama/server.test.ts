import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBuildOutput } from './binaries.ts';
import { pgidFromStat } from './process-group.ts';
import { ollamaEnv } from './server.ts';

describe('parseBuildOutput', () => {
  const cases: { name: string; stdout: string; want?: { bin: string; gguf: string } }[] = [
    {
      name: 'both paths',
      stdout: 'OLLAMA_BIN=/c/ollama-v0.24.0-abc/ollama\nOLLAMA_GGUF=/c/smollm2/m.gguf\n',
      want: { bin: '/c/ollama-v0.24.0-abc/ollama', gguf: '/c/smollm2/m.gguf' },
    },
    { name: 'missing model', stdout: 'OLLAMA_BIN=/c/ollama\n' },
    { name: 'relative path', stdout: 'OLLAMA_BIN=ollama\nOLLAMA_GGUF=/c/m.gguf\n' },
    { name: 'nothing', stdout: '' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.want) assert.deepEqual(parseBuildOutput(c.stdout), c.want);
      else assert.throws(() => parseBuildOutput(c.stdout), /OLLAMA_BIN\/OLLAMA_GGUF/);
    });
  }
});

describe('ollamaEnv', () => {
  it('serves on loopback from its own directory with cloud features off, inheriting only PATH', () => {
    process.env.OLLAMA_ORIGINS = '*';
    process.env.HTTPS_PROXY = 'http://proxy.invalid:3128';
    try {
      const env = ollamaEnv('/run/o', 41234, '/usr/bin');
      assert.deepEqual(env, {
        PATH: '/usr/bin',
        HOME: '/run/o/home',
        TMPDIR: '/run/o/tmp',
        OLLAMA_HOST: '127.0.0.1:41234',
        OLLAMA_MODELS: '/run/o/models',
        OLLAMA_NO_CLOUD: '1',
        GIN_MODE: 'release',
      });
    } finally {
      delete process.env.OLLAMA_ORIGINS;
      delete process.env.HTTPS_PROXY;
    }
  });
  for (const port of [0, -1, 65536, 1.5, Number.NaN]) {
    it(`refuses port ${port}`, () => assert.throws(() => ollamaEnv('/run/o', port), /invalid Ollama port/));
  }
});

describe('pgidFromStat', () => {
  const cases: [string, string, number | undefined][] = [
    ['plain', '1234 (ollama) S 1 1234 1234 0 -1', 1234],
    ['command with spaces and parens', '77 (a b) c)) R 5 60 60 0 -1', 60],
    ['empty', '', undefined],
  ];
  for (const [name, stat, want] of cases) it(name, () => assert.equal(pgidFromStat(stat), want));
});
