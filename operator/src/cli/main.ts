/** `closedpaw <verb> …`: dispatches to one small module per verb group. */

import { rotateTokenFile } from '../server/ui/token.ts';
import { runApprovalsCli } from './approvals.ts';
import { runAuditCli } from './audit.ts';
import { runScreenCli } from './screen.ts';

const USAGE = `usage: closedpaw <command> [options]

approvals [-n NS | -A]                 list approvals
approve NAME [-n NS] [--reason TEXT] [--yes]
                                       show what is approved, then approve as your kubeconfig identity
deny NAME [-n NS] [--reason TEXT]      show what is denied, then deny as your kubeconfig identity
ui token rotate --file FILE            write a new UI token into FILE (the old one stops working)
audit verify|export|tail|keygen|pubkey …  the sealed audit log (closedpaw audit help)
screen [--threshold T] [--where W] < lines.jsonl
                                       prompt-injection screening of JSON lines {"id","text"}
`;

const io = {
  stdout: (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`),
  stderr: (s: string) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`),
};

function rotateUiToken(args: string[]): number {
  const [what, verb, flag, file] = args;
  if (args.length !== 4 || what !== 'token' || verb !== 'rotate' || flag !== '--file' || !file) {
    io.stderr('usage: closedpaw ui token rotate --file FILE');
    return 2;
  }
  try {
    rotateTokenFile(file);
  } catch (error) {
    io.stderr(`closedpaw ui: ${(error as Error).message}`);
    return 1;
  }
  io.stdout(`wrote a new UI token to ${file}: the old one stops working at the next request`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'approvals':
    case 'approve':
    case 'deny':
      return await runApprovalsCli(argv, io);
    case 'audit':
      return await runAuditCli(rest, io);
    case 'ui':
      return rotateUiToken(rest);
    case 'screen':
      return await runScreenCli(rest, { ...io, stdin: process.stdin });
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.stdout(USAGE);
      return verb === undefined ? 2 : 0;
    default:
      io.stderr(`closedpaw: unknown command "${verb}"\n\n${USAGE}`);
      return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
