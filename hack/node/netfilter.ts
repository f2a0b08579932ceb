/**
 * Removing the node's packet-filter state, decided by pure functions over
 * `iptables-save` text: every chain named KUBE-* or CNI-* (kube-proxy,
 * kube-router, the kubelet, CNI plugins) and every rule elsewhere that jumps
 * to one or is commented as theirs. Nothing else is touched.
 */

const OUR_CHAIN = /^(KUBE-|CNI-)/;
const OUR_COMMENT = /--comment "?(kube-router|kubernetes|cni|KUBE-)/i;

export const isOurChain = (chain: string) => OUR_CHAIN.test(chain);

/** A script for `iptables-restore --noflush` that removes our rules and chains; '' when there are none. */
export function iptablesCleanupScript(save: string): string {
  const out: string[] = [];
  let table: string | undefined;
  let deletes: string[] = [];
  let chains: string[] = [];
  const flush = () => {
    if (table && (deletes.length > 0 || chains.length > 0)) {
      out.push(
        `*${table}`,
        ...deletes,
        ...chains.map((c) => `-F ${c}`),
        ...chains.map((c) => `-X ${c}`),
        'COMMIT',
      );
    }
    deletes = [];
    chains = [];
  };
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) {
      flush();
      table = line.slice(1).trim();
    } else if (line.startsWith(':')) {
      const chain = line.slice(1).split(/\s+/)[0]!;
      if (isOurChain(chain)) chains.push(chain);
    } else if (line.startsWith('-A ')) {
      const [, chain, ...rest] = line.split(' ');
      const spec = rest.join(' ');
      const jump = /(?:^|\s)-[jg] (\S+)/.exec(spec)?.[1];
      const ours = (jump !== undefined && isOurChain(jump)) || OUR_COMMENT.test(spec);
      if (ours && chain && !isOurChain(chain)) deletes.push(`-D ${chain} ${spec}`);
    } else if (line.startsWith('COMMIT')) {
      flush();
      table = undefined;
    }
  }
  return out.length > 0 ? `${out.join('\n')}\n` : '';
}

/** `iptables-save` without counters and comments, for comparing before/after. */
export function normalizeIptablesSave(save: string): string {
  return save
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => line.replace(/\s\[\d+:\d+\]$/, ''))
    .join('\n');
}

/** nft tables in `nft list tables` output, as "family name". */
export function nftTables(listing: string): string[] {
  return listing
    .split('\n')
    .map((line) => /^table (\S+) (\S+)/.exec(line.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} ${m[2]}`)
    .sort();
}

/** True when an `nft list table` listing holds chains but no rules (what iptables-nft leaves behind). */
export function nftTableIsEmpty(listing: string): boolean {
  return listing
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && line !== '}')
    .every((line) => /^(table |chain |type .* hook .* priority .*;|policy \w+;$)/.test(line));
}
