/**
 * A V8 heap snapshot in a few lines: self size by node type, and the largest object kinds (constructor
 * names, strings and code by type), so "where does every MB go" has an answer. Also a CLI:
 * `node test/bench/heap-summary.ts FILE.heapsnapshot`.
 */
import { readFile } from 'node:fs/promises';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(2)} MB`;

export async function summariseHeapSnapshot(file: string, top = 25): Promise<string> {
  const snap = JSON.parse(await readFile(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const byType = new Map<string, number>();
  const byKind = new Map<string, { bytes: number; count: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!] ?? '?';
    const size = snap.nodes[i + sizeAt]!;
    total += size;
    byType.set(type, (byType.get(type) ?? 0) + size);
    const name = snap.strings[snap.nodes[i + nameAt]!] ?? '';
    // Objects by constructor; everything else (strings, code, arrays, hidden) by type and a short name.
    const kind =
      type === 'object' || type === 'closure'
        ? `${type} ${name.slice(0, 60)}`
        : type === 'code' || type === 'hidden' || type === 'array' || type === 'object shape'
          ? `${type} ${name.replace(/\s*\/.*$/, '').slice(0, 60)}`
          : type;
    const entry = byKind.get(kind) ?? { bytes: 0, count: 0 };
    entry.bytes += size;
    entry.count++;
    byKind.set(kind, entry);
  }
  const lines = [`total self size ${mb(total)} in ${snap.nodes.length / width} nodes`, 'by type:'];
  for (const [type, bytes] of [...byType].sort((a, b) => b[1] - a[1]))
    lines.push(`  ${type.padEnd(22)} ${mb(bytes).padStart(10)}`);
  lines.push(`largest ${top} kinds:`);
  for (const [kind, { bytes, count }] of [...byKind].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top))
    lines.push(`  ${kind.padEnd(70)} ${mb(bytes).padStart(10)} ${String(count).padStart(8)}`);
  return lines.join('\n');
}

if (import.meta.main && process.argv[2])
  process.stdout.write(`${await summariseHeapSnapshot(process.argv[2])}\n`);
