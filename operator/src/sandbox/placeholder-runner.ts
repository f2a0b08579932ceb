/**
 * The program the sandbox runs until the real agent runner lands: one
 * non-streaming Ollama /api/generate call with the task's prompt, its answer
 * printed as a result frame (see api/result-frame.ts). CommonJS for `node -e`.
 */
export const PLACEHOLDER_RUNNER = String.raw`
const { readFileSync } = require('node:fs');
const { createHash } = require('node:crypto');
const task = JSON.parse(readFileSync(process.env.CLOSEDPAW_TASK_FILE, 'utf8'));
const frame = (text) => {
  const bytes = Buffer.from(text, 'utf8');
  const sha = createHash('sha256').update(bytes).digest('hex');
  return '<<<closedpaw-result bytes=' + bytes.length + ' sha256=' + sha + '>>>\n' +
    bytes.toString('base64') + '\n<<<closedpaw-result-end>>>\n';
};
fetch(process.env.OLLAMA_HOST + '/api/generate', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model: task.model, prompt: task.prompt, stream: false }),
})
  .then(async (res) => {
    if (!res.ok) throw new Error('ollama answered ' + res.status + ': ' + (await res.text()).slice(0, 500));
    return res.json();
  })
  .then((answer) => process.stdout.write(frame(String(answer.response ?? ''))))
  .catch((error) => {
    console.error('closedpaw runner: ' + error.message);
    process.exitCode = 1;
  });
`;
