/** `closedpaw completion bash|zsh`: a completion script for the commands, their options and values. */
import type { ParseArgsOptionsConfig } from 'node:util';
import { RUNTIME_CLASSES, TOOLS } from '../api/agenttask.ts';
import { OPTIONS as APPROVALS_OPTIONS } from './approvals.ts';
import { OPTIONS as AUDIT_OPTIONS, AUDIT_SUBCOMMANDS } from './audit.ts';
import type { CliIo } from './common.ts';
import { OPTIONS as DOCTOR_OPTIONS } from './doctor/index.ts';
import { OPTIONS as DOWN_OPTIONS } from './down.ts';
import { OPTIONS as RUN_OPTIONS } from './run.ts';
import { OPTIONS as SCREEN_OPTIONS } from './screen.ts';
import { OPTIONS as UI_OPTIONS } from './ui.ts';
import { OPTIONS as UP_OPTIONS } from './up.ts';
import { VAULT_SUBCOMMANDS } from './vault.ts';
import { VERBS } from './verbs.ts';

/** The words for options: `--name`, and `-x` where there is a short form; `only` picks some of them. */
function optionWords<O extends ParseArgsOptionsConfig>(
  options: O,
  only?: readonly (keyof O & string)[],
): string[] {
  return Object.entries(options)
    .filter(([name]) => !only || only.includes(name))
    .flatMap(([name, spec]) => [`--${name}`, ...(spec.short ? [`-${spec.short}`] : [])]);
}

/**
 * Each command's sub-commands and options (what completion offers after it), read from the options the
 * verbs parse, so completion cannot offer an option a verb lacks or miss one it has.
 */
export const COMMAND_OPTIONS: Record<string, string[]> = {
  run: optionWords(RUN_OPTIONS),
  up: optionWords(UP_OPTIONS),
  down: optionWords(DOWN_OPTIONS),
  ui: optionWords(UI_OPTIONS),
  doctor: optionWords(DOCTOR_OPTIONS),
  // One parser for the three; each offers what applies to it.
  approvals: optionWords(APPROVALS_OPTIONS, ['namespace', 'all-namespaces', 'help']),
  approve: optionWords(APPROVALS_OPTIONS, ['namespace', 'reason', 'yes', 'help']),
  deny: optionWords(APPROVALS_OPTIONS, ['namespace', 'reason', 'help']),
  audit: [...AUDIT_SUBCOMMANDS, ...optionWords(AUDIT_OPTIONS)],
  screen: optionWords(SCREEN_OPTIONS),
  vault: [...VAULT_SUBCOMMANDS, '--help', '-h'],
  channel: ['pair'],
  completion: ['bash', 'zsh'],
  version: [],
  help: [...VERBS],
};

/** Values offered after an option. */
const OPTION_VALUES: Record<string, string[]> = {
  '--tools': [...TOOLS],
  '--runtime': [...RUNTIME_CLASSES],
  '--approval': ['auto', 'required'],
  '--output': ['json', 'yaml'],
  '-o': ['json', 'yaml'],
};

export function bashCompletion(): string {
  const cases = Object.entries(COMMAND_OPTIONS)
    .map(([verb, opts]) => `    ${verb}) opts="${opts.join(' ')}" ;;`)
    .join('\n');
  const values = Object.entries(OPTION_VALUES)
    .map(([opt, vals]) => `    ${opt}) COMPREPLY=($(compgen -W "${vals.join(' ')}" -- "$cur")); return ;;`)
    .join('\n');
  return `# bash completion for closedpaw (and kubectl-closedpaw)
# load it: source <(closedpaw completion bash)
_closedpaw() {
  local cur prev verb opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${VERBS.join(' ')}" -- "$cur"))
    return
  fi
  case "$prev" in
${values}
    --values|-f|--file|--log|--keys|--pubkeys|--checkpoints|--dir) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  verb="\${COMP_WORDS[1]}"
  case "$verb" in
${cases}
    *) opts="" ;;
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _closedpaw closedpaw kubectl-closedpaw
`;
}

export function zshCompletion(): string {
  const cases = Object.entries(COMMAND_OPTIONS)
    .map(([verb, opts]) => `    ${verb}) opts=(${opts.join(' ')}) ;;`)
    .join('\n');
  const values = Object.entries(OPTION_VALUES)
    .map(([opt, vals]) => `    ${opt}) compadd -- ${vals.join(' ')}; return ;;`)
    .join('\n');
  return `#compdef closedpaw kubectl-closedpaw
# zsh completion for closedpaw; load it: source <(closedpaw completion zsh)
_closedpaw() {
  local -a opts
  if (( CURRENT == 2 )); then
    compadd -- ${VERBS.join(' ')}
    return
  fi
  case "\${words[CURRENT-1]}" in
${values}
    --values|-f|--file|--log|--keys|--pubkeys|--checkpoints|--dir) _files; return ;;
  esac
  case "\${words[2]}" in
${cases}
    *) opts=() ;;
  esac
  compadd -- $opts
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  _closedpaw "$@"
else
  compdef _closedpaw closedpaw kubectl-closedpaw
fi
`;
}

const USAGE = `usage: closedpaw completion bash|zsh
  bash:  source <(closedpaw completion bash)        (or write it to /etc/bash_completion.d/closedpaw)
  zsh:   source <(closedpaw completion zsh)         (or write it as _closedpaw into a directory on $fpath)`;

export function runCompletionCli(argv: string[], io: CliIo): number {
  const [shell, ...extra] = argv;
  if (shell === '--help' || shell === '-h') {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  if (extra.length > 0 || (shell !== 'bash' && shell !== 'zsh')) {
    io.stderr(
      `closedpaw completion: ${shell ? `unsupported shell "${shell}"` : 'name a shell'}: bash or zsh (usage: closedpaw completion --help)\n`,
    );
    return 2;
  }
  io.stdout(shell === 'bash' ? bashCompletion() : zshCompletion());
  return 0;
}
