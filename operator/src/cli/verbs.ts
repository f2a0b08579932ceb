/** The CLI's verbs, its top-level usage and its version: shared by main.ts, help and completion. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const VERBS = [
  'run',
  'up',
  'down',
  'ui',
  'doctor',
  'approvals',
  'approve',
  'deny',
  'audit',
  'screen',
  'vault',
  'channel',
  'completion',
  'version',
  'help',
] as const;

export const USAGE = `usage: closedpaw <command> [options]        (also: kubectl closedpaw <command>)

Run tasks
  run "PROMPT" [--tools LIST] [--model M] [--runtime gvisor|kata-qemu] [--timeout D] [-n NS]
               [--wait|--detach] [-o json|yaml]
                                         create an AgentTask and follow it to its result
Approve
  approvals [-n NS | -A]                 list approvals
  approve NAME [-n NS] [--reason TEXT] [--yes]
                                         show what is approved, then approve as your kubeconfig identity
  deny NAME [-n NS] [--reason TEXT]      show what is denied, then deny as your kubeconfig identity
  ui [-n NS] [--port P] [--open]         port-forward to the approval UI and print its URL
  ui token rotate --file FILE            write a new UI token into FILE (the old one stops working)
  channel pair CODE                      let the chat account that showed CODE decide as you
Install and check
  up [--values FILE] [--set K=V] [-n NS] [--release R] [--timeout D] [--no-wait]
                                         install or upgrade the chart, wait until the operator is Ready
  down [-n NS] [--release R] [--timeout D] [--delete-crds]
                                         delete every AgentTask (and wait), then uninstall the chart
  doctor [--pre] [-n NS] [-o json]       check the cluster, sandbox runtime, network, model, operator,
                                         audit log and UI; × fails (exit 1)
Audit and screening
  audit verify|export|tail|keygen|pubkey …  the sealed audit log (closedpaw audit help)
  screen [--threshold T] [--where W] < lines.jsonl
                                         prompt-injection screening of JSON lines {"id","text"}
  vault set NAME | list | delete NAME    the encrypted store of provider API keys (values from stdin)
Shell
  completion bash|zsh                    print a completion script (e.g. source <(closedpaw completion bash))
  version                                print the version

closedpaw <command> --help shows a command's options. Exit codes: 0 ok, 1 failed, 2 usage error.
The cluster is your kubeconfig's current context ($KUBECONFIG or ~/.kube/config).
`;

export function version(): string {
  // Sources sit 3 levels under the package root, the built CLI (dist/cli/…) 5: walk up to package.json.
  let dir = import.meta.dirname;
  for (let i = 0; i < 6; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'closedpaw' && pkg.version) return pkg.version;
    } catch {
      // not this level
    }
  }
  return 'unknown';
}
