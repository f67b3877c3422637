/**
 * An in-memory model of the kernel's iptables tables that `iptables-restore` payloads can be
 * applied to, with the same all-or-nothing per-table behaviour and `--noflush` semantics: a
 * chain line creates or flushes its chain, `-A` appends, `-X` deletes (failing while the chain
 * is still referenced). It lets tests check that a partial sync applied on top of a full one
 * leaves exactly the rules a fresh full sync would.
 *
 * @module
 */
import { BASE_CHAIN_JUMPS, baseJumpRuleArgs } from '../backends/iptables/constants';
import { type IptablesRule, parseIptablesRestore, parseRule } from './iptables-parser';

const BUILTIN_CHAINS: Readonly<Record<string, readonly string[]>> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
};
const BUILTIN_TARGETS = new Set([
  'ACCEPT',
  'DROP',
  'REJECT',
  'RETURN',
  'DNAT',
  'SNAT',
  'MASQUERADE',
  'MARK',
  'LOG',
]);

/** One table: chains in creation order, each with its rules. */
export type IptablesTable = Map<string, IptablesRule[]>;

function emptyTable(name: string): IptablesTable {
  return new Map((BUILTIN_CHAINS[name] ?? []).map((c) => [c, []]));
}

/** Kernel-like iptables state for tests. */
export class IptablesState {
  private readonly tables = new Map<string, IptablesTable>();

  /** The table `name` (created empty with its built-in chains on first use). */
  table(name: string): IptablesTable {
    let t = this.tables.get(name);
    if (!t) {
      t = emptyTable(name);
      this.tables.set(name, t);
    }
    return t;
  }

  /** Rules of `table`/`chain`, `undefined` when the chain does not exist. */
  rules(table: string, chain: string): readonly IptablesRule[] | undefined {
    return this.tables.get(table)?.get(chain);
  }

  /** Whether `chain` exists in `table`. */
  hasChain(table: string, chain: string): boolean {
    return this.tables.get(table)?.has(chain) ?? false;
  }

  /**
   * Applies a restore payload. Each table block is applied to a copy and swapped in only when
   * every command succeeded; the first failing block throws and leaves that table untouched
   * (blocks before it stay applied, as with the real `iptables-restore`).
   */
  restore(payload: string, options: { readonly noflush?: boolean } = {}): void {
    for (const block of parseIptablesRestore(payload)) {
      const base = options.noflush === false ? emptyTable(block.table) : this.table(block.table);
      const next: IptablesTable = new Map([...base].map(([c, r]) => [c, [...r]]));
      const builtins = new Set(BUILTIN_CHAINS[block.table] ?? []);
      for (const cmd of block.commands) {
        switch (cmd.kind) {
          case 'chain':
            next.set(cmd.chain, []);
            break;
          case 'flush-chain':
            if (!next.has(cmd.chain)) throw new Error(`${block.table}: no chain ${cmd.chain} to flush`);
            next.set(cmd.chain, []);
            break;
          case 'delete-chain': {
            if (builtins.has(cmd.chain))
              throw new Error(`${block.table}: cannot delete built-in ${cmd.chain}`);
            const rules = next.get(cmd.chain);
            if (!rules) throw new Error(`${block.table}: no chain ${cmd.chain} to delete`);
            if (rules.length > 0) throw new Error(`${block.table}: chain ${cmd.chain} is not empty`);
            next.delete(cmd.chain);
            break;
          }
          case 'append': {
            const rules = next.get(cmd.rule.chain);
            if (!rules) throw new Error(`${block.table}: no chain ${cmd.rule.chain} for ${cmd.rule.text}`);
            rules.push(cmd.rule);
            break;
          }
        }
      }
      // A jump to a missing chain (or a deleted chain still referenced) fails the whole table.
      for (const [chain, rules] of next) {
        for (const r of rules) {
          if (r.target && !BUILTIN_TARGETS.has(r.target) && !next.has(r.target)) {
            throw new Error(`${block.table}: ${chain} jumps to missing chain ${r.target}`);
          }
        }
      }
      this.tables.set(block.table, next);
    }
  }

  /** Inserts kube-proxy's jumps from the built-in chains, as the applier's ensure step does. */
  ensureBaseJumps(): void {
    for (const j of BASE_CHAIN_JUMPS) {
      const t = this.table(j.table);
      if (!t.has(j.to)) t.set(j.to, []);
      const args = baseJumpRuleArgs(j);
      const text = `-A ${j.from} ${args.join(' ')}`;
      const chain = t.get(j.from)!;
      if (!chain.some((r) => r.text === text)) chain.unshift(parseRule(j.from, args, text));
    }
  }

  /**
   * `iptables-save`-like text of the state: user chains sorted by name, rules in order. Two
   * states with equal `save()` output hold the same rules.
   */
  save(): string {
    const out: string[] = [];
    for (const name of [...this.tables.keys()].sort()) {
      const t = this.tables.get(name)!;
      out.push(`*${name}`);
      const builtins = BUILTIN_CHAINS[name] ?? [];
      const chains = [
        ...builtins.filter((c) => t.has(c)),
        ...[...t.keys()].filter((c) => !builtins.includes(c)).sort(),
      ];
      for (const c of chains) out.push(`:${c} ${builtins.includes(c) ? 'ACCEPT' : '-'} [0:0]`);
      for (const c of chains) for (const r of t.get(c)!) out.push(r.text);
      out.push('COMMIT');
    }
    return `${out.join('\n')}\n`;
  }
}
