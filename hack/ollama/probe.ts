/**
 * Which phrasings make smollm2:135m call which tool (the table in hack/ollama/README.md),
 * against a running Ollama: `node hack/ollama/probe.ts http://127.0.0.1:PORT`.
 * Uses the runner's real tool definitions and system prompt, so a change there or in
 * the Modelfile can be re-measured. Prints one line per case and a total; exit 0 always.
 */
import { type Message, Ollama, type Tool } from 'ollama';
import { systemPrompt } from '../../operator/src/runner/prompt.ts';
import { createSpotlight } from '../../operator/src/runner/spotlight.ts';
import { createToolBox } from '../../operator/src/runner/tools/registry.ts';
import { OLLAMA_MODEL } from './server.ts';

const url = process.argv[2] ?? process.env.OLLAMA_HOST;
if (!url) throw new Error('usage: node hack/ollama/probe.ts http://127.0.0.1:PORT (or set OLLAMA_HOST)');

const spotlight = createSpotlight();
const box = createToolBox(['fs.list', 'fs.read'], {
  files: {} as never,
  workspace: '/workspace',
  spotlight,
  signal: new AbortController().signal,
  remainingMs: () => 60_000,
});
const system = systemPrompt({
  spotlight,
  canary: 'CPW-000000000000000000000000',
  toolNames: box.names,
  workspace: '/workspace',
});
const noParams: Tool = {
  type: 'function',
  function: {
    name: 'list_files',
    description: 'List the files in the workspace',
    parameters: { type: 'object', properties: {} },
  },
};
const toolSets: Record<string, Tool[]> = {
  runner: box.definitions,
  reversed: [...box.definitions].reverse(),
  noParams: [noParams],
};
const cases: [want: string, prompt: string][] = [
  ['list_files', 'Use the list_files tool to list the files in the workspace.'],
  ['read_file', 'Use the read_file tool to read the file README.md.'],
  ['read_file', 'Read the file notes.txt'],
  ['list_files', 'List the files in the workspace.'],
];

const client = new Ollama({ host: url });
let good = 0;
let total = 0;
for (const withSystem of [false, true]) {
  for (const [setName, tools] of Object.entries(toolSets)) {
    for (const [want, prompt] of cases) {
      if (!tools.some((t) => t.function.name === want)) continue;
      const messages: Message[] = [
        ...(withSystem ? [{ role: 'system', content: system }] : []),
        { role: 'user', content: prompt },
      ];
      const response = await client.chat({ model: OLLAMA_MODEL, messages, tools, stream: false });
      const calls = response.message.tool_calls ?? [];
      const ok = calls.length === 1 && calls[0]?.function.name === want;
      total++;
      if (ok) good++;
      const shown = calls.length
        ? calls.map((c) => `${c.function.name}(${JSON.stringify(c.function.arguments)})`).join(' ')
        : `text: ${JSON.stringify(response.message.content.slice(0, 60))}`;
      console.log(
        `${ok ? 'OK ' : 'BAD'} ${withSystem ? 'system' : '      '} ${setName.padEnd(8)} ${prompt.padEnd(60)} ${shown}`,
      );
    }
  }
}
console.log(`${good}/${total} cases called the expected tool`);
