#!/usr/bin/env node
/**
 * `closedpaw <verb> …`: dispatches to one small module per verb group. Verb modules are imported on
 * demand, so `closedpaw --help` or `closedpaw run` never loads the audit store or the screening model.
 */
import { closest } from './suggest.ts';
import { USAGE, VERBS, version } from './verbs.ts';

const io = {
  stdout: (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`),
  stderr: (s: string) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`),
  rawStderr: (s: string) => process.stderr.write(s),
};

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'run':
      return await (await import('./run.ts')).runRunCli(rest, io);
    case 'up':
      return await (await import('./up.ts')).runUpCli(rest, io);
    case 'down':
      return await (await import('./down.ts')).runDownCli(rest, io);
    case 'doctor':
      return await (await import('./doctor/index.ts')).runDoctorCli(rest, io);
    case 'ui':
      return await (await import('./ui.ts')).runUiCli(rest, io);
    case 'approvals':
    case 'approve':
    case 'deny':
      return await (await import('./approvals.ts')).runApprovalsCli(argv, io);
    case 'audit':
      return await (await import('./audit.ts')).runAuditCli(rest, io);
    case 'vault':
      return await (await import('./vault.ts')).runVaultCli(rest, {
        ...io,
        stdin: process.stdin,
        env: process.env,
      });
    case 'channel':
      return await (await import('../channels/cli.ts')).runChannelCli(rest, io);
    case 'screen':
      return await (await import('./screen.ts')).runScreenCli(rest, { ...io, stdin: process.stdin });
    case 'completion':
      return (await import('./completion.ts')).runCompletionCli(rest, io);
    case 'version':
    case '--version':
      io.stdout(`closedpaw ${version()} (node ${process.versions.node})`);
      return 0;
    case 'help':
      if (rest[0] && rest[0] !== 'help') return await main([rest[0], '--help']);
      io.stdout(USAGE);
      return 0;
    case undefined:
    case '--help':
    case '-h':
      io.stdout(USAGE);
      return verb === undefined ? 2 : 0;
    default: {
      const hint = closest(verb, VERBS);
      io.stderr(
        `closedpaw: unknown command "${verb}"${hint ? ` (did you mean ${hint}?)` : ''}; closedpaw --help lists the commands`,
      );
      return 2;
    }
  }
}

process.exitCode = await main(process.argv.slice(2));
