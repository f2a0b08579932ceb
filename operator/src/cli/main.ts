/** `closedpaw <verb> …`: dispatches to one small module per verb group. */
import { runApprovalsCli } from './approvals.ts';
import { runAuditCli } from './audit.ts';

const USAGE = `usage: closedpaw <command> [options]

approvals [-n NS | -A]                 list approvals
approve NAME [-n NS] [--reason TEXT]   approve as your kubeconfig identity
deny NAME [-n NS] [--reason TEXT]      deny as your kubeconfig identity
audit verify|export|tail|keygen …      the sealed audit log (closedpaw audit help)
`;

const io = {
  stdout: (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`),
  stderr: (s: string) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`),
};

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'approvals':
    case 'approve':
    case 'deny':
      return await runApprovalsCli(argv, io);
    case 'audit':
      return await runAuditCli(rest, io);
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
