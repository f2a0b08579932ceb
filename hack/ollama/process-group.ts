/**
 * The process group of a detached process (hack/cluster/processes.ts startDetached): `ollama serve`
 * starts model runners as children, so stopping it means stopping the whole group.
 */
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** The process-group id in a /proc/<pid>/stat line (field 5; the command in field 2 may hold spaces). */
export function pgidFromStat(stat: string): number | undefined {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const pgid = Number(fields[2]);
  return Number.isInteger(pgid) && pgid > 0 ? pgid : undefined;
}

interface ProcessInfo {
  pid: number;
  pgid: number;
  zombie: boolean;
  argv: string[];
}

async function processInfo(pid: number): Promise<ProcessInfo | undefined> {
  const [stat, cmdline] = await Promise.all([
    readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''),
    readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''),
  ]);
  const pgid = pgidFromStat(stat);
  if (pgid === undefined) return undefined;
  const zombie = stat.charAt(stat.lastIndexOf(')') + 2) === 'Z';
  return { pid, pgid, zombie, argv: cmdline.split('\0').filter(Boolean) };
}

/**
 * Live (non-zombie) members of process group `pgid` that run `executable`.
 * Checking the executable keeps a recycled pid from making us signal a stranger.
 */
export async function groupPids(pgid: number, executable: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const info = await processInfo(Number(entry));
    if (info && !info.zombie && info.pgid === pgid && info.argv[0] === executable) pids.push(info.pid);
  }
  return pids;
}

function signalEach(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

/** SIGTERM to the group's members that run `executable`, SIGKILL after `graceMs`; resolves when none is left. */
export async function stopGroup(pgid: number, executable: string, graceMs = 5000): Promise<void> {
  let members = await groupPids(pgid, executable);
  signalEach(members, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (members.length > 0 && Date.now() < deadline) {
    await sleep(50);
    members = await groupPids(pgid, executable);
  }
  signalEach(members, 'SIGKILL');
  while ((await groupPids(pgid, executable)).length > 0) await sleep(20);
}
