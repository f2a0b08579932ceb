/**
 * The memory floor of any Node operator, measured in the same run: a bare Node process with the operator's
 * V8 flags and environment (operator/src/launch.ts) that serves HTTP on 127.0.0.1 and keeps a TLS connection to the API server open, nothing else
 * (node:http read as operator/src/node-http.ts does).
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { OPERATOR_ENV } from '../../operator/src/launch.ts';
import { type ResidentMemory, residentMemory } from '../support/operator-process.ts';

const SCRIPT = `
const { createServer } = process.getBuiltinModule('node:http');
const { Agent, get } = process.getBuiltinModule('node:https');
createServer((_, res) => res.end('ok')).listen(0, '127.0.0.1');
const agent = new Agent({ keepAlive: true, rejectUnauthorized: false });
const poll = () => get(process.argv[1] + '/readyz', { agent }, (res) => res.resume()).on('error', () => {});
poll();
setInterval(poll, 1000);
`;

export async function nodeFloorMemory(apiServer: string, flags: string[]): Promise<ResidentMemory> {
  const child = spawn(process.execPath, [...flags, '--input-type=module', '-e', SCRIPT, apiServer], {
    stdio: 'ignore',
    env: { ...process.env, ...OPERATOR_ENV },
  });
  try {
    await sleep(3000);
    if (child.exitCode !== null) throw new Error(`the floor process exited (${child.exitCode})`);
    return await residentMemory(child.pid!);
  } finally {
    child.kill();
  }
}
