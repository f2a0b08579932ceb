/**
 * The real Ollama (hack/ollama/build.sh) with the real model: version, a tool call
 * and a plain answer through the `ollama` npm client, then a clean stop. Skipped
 * when the binary is not built yet (`bash hack/ollama/build.sh`, 4–11 min cold),
 * except in CI, where a missing build fails instead of passing silently.
 * Asserts structure, never wording: the model is a protocol fixture.
 */
import assert from 'node:assert/strict';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Ollama, type Tool, type ToolCall } from 'ollama';
import { groupPids } from './process-group.ts';
import {
  builtOllama,
  OLLAMA_MODEL,
  OLLAMA_VERSION,
  type RunningOllama,
  serverVersion,
  startOllama,
} from './server.ts';

const artifacts = await builtOllama();

const listFiles: Tool = {
  type: 'function',
  function: {
    name: 'list_files',
    description: 'List the files in a directory of the workspace',
    parameters: {
      type: 'object',
      properties: { path: { type: 'string', description: 'Directory relative to the workspace' } },
    },
  },
};
const readFile: Tool = {
  type: 'function',
  function: {
    name: 'read_file',
    description: 'Read a file from the workspace',
    parameters: {
      type: 'object',
      required: ['path'],
      properties: { path: { type: 'string', description: 'File path relative to the workspace' } },
    },
  },
};

/** Streams one chat turn; returns the text and the tool calls that came back. */
async function chat(client: Ollama, model: string, prompt: string, tools?: Tool[]) {
  const stream = await client.chat({
    model,
    messages: [{ role: 'user', content: prompt }],
    stream: true,
    ...(tools ? { tools } : {}),
  });
  let content = '';
  const toolCalls: ToolCall[] = [];
  for await (const part of stream) {
    content += part.message.content;
    toolCalls.push(...(part.message.tool_calls ?? []));
  }
  return { content, toolCalls };
}

const skip = artifacts || process.env.CI ? false : 'Ollama not built: bash hack/ollama/build.sh';

describe('real Ollama with smollm2:135m', { skip }, () => {
  let dir: string;
  let ollama: RunningOllama;
  let client: Ollama;

  before(async () => {
    if (!artifacts) throw new Error('Ollama is not built: run bash hack/ollama/build.sh before the tests');
    dir = await mkdtemp(join(tmpdir(), 'closedpaw-ollama-'));
    ollama = await startOllama(dir, { artifacts });
    client = new Ollama({ host: ollama.url });
  });
  after(async () => {
    await ollama?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reports the pinned version and has the model', async () => {
    assert.equal(await serverVersion(ollama.url), OLLAMA_VERSION);
    assert.equal(ollama.model, OLLAMA_MODEL);
    const { models } = await client.list();
    assert.ok(models.some((m) => m.name === OLLAMA_MODEL));
  });

  it('answers a direct request with a real list_files tool call', async () => {
    const { toolCalls } = await chat(
      client,
      ollama.model,
      'Use the list_files tool to list the files in the workspace.',
      [listFiles, readFile],
    );
    assert.deepEqual(
      toolCalls.map((c) => c.function.name),
      ['list_files'],
    );
  });

  it('passes the path argument of a read_file tool call', async () => {
    const { toolCalls } = await chat(
      client,
      ollama.model,
      'Use the read_file tool to read the file README.md.',
      [listFiles, readFile],
    );
    assert.equal(toolCalls.length, 1);
    assert.equal(toolCalls[0]?.function.name, 'read_file');
    assert.equal(typeof toolCalls[0]?.function.arguments.path, 'string');
  });

  it('answers in plain text without tools', async () => {
    const { content, toolCalls } = await chat(client, ollama.model, 'What is the capital of France?');
    assert.equal(toolCalls.length, 0);
    assert.ok(content.trim().length > 0);
  });

  it('stops serve and its runners', async () => {
    const { pid } = ollama;
    const bin = await realpath(artifacts!.bin);
    assert.ok((await groupPids(pid, bin)).length >= 1, 'serve runs before stop');
    await ollama.stop();
    assert.deepEqual(await groupPids(pid, bin), []);
    await assert.rejects(serverVersion(ollama.url));
  });
});
