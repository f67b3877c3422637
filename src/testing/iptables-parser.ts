/**
 * A parser for `iptables-restore` / `iptables-save` text, enough for kube-proxy's rules: tables,
 * chain lines, `-A` rules (matches, negations, targets), `-X` deletions and comments. Unknown
 * options are errors, so a rule the tracer could misread never slips through.
 *
 * @module
 */

/** One match condition of a rule. */
export type IptablesMatch =
  | { readonly kind: 'source'; readonly negate: boolean; readonly cidr: string }
  | { readonly kind: 'destination'; readonly negate: boolean; readonly cidr: string }
  | { readonly kind: 'protocol'; readonly negate: boolean; readonly protocol: string }
  | { readonly kind: 'dport'; readonly negate: boolean; readonly from: number; readonly to: number }
  | {
      readonly kind: 'addrtype';
      readonly negate: boolean;
      readonly which: 'src' | 'dst';
      readonly type: string;
    }
  | { readonly kind: 'mark'; readonly negate: boolean; readonly value: number; readonly mask: number }
  | { readonly kind: 'ctstate'; readonly negate: boolean; readonly states: readonly string[] }
  | { readonly kind: 'statistic'; readonly probability: number }
  | {
      readonly kind: 'recent';
      readonly name: string;
      readonly mode: 'rcheck' | 'set';
      readonly seconds?: number;
    }
  | { readonly kind: 'nfacct'; readonly name: string }
  | {
      readonly kind: 'interface';
      readonly negate: boolean;
      readonly direction: 'in' | 'out';
      readonly name: string;
    };

/** One parsed `-A` rule. */
export interface IptablesRule {
  readonly chain: string;
  readonly matches: readonly IptablesMatch[];
  readonly comment?: string;
  /** `-j` target; undefined for a rule without one (a counting rule, e.g. the end of a KUBE-FW- chain). */
  readonly target?: string;
  /** `--to-destination` of DNAT. */
  readonly toDestination?: string;
  /** MARK `--or-mark` / `--xor-mark` / `--set-xmark` operand. */
  readonly markOp?: { readonly op: 'or' | 'xor' | 'set'; readonly value: number; readonly mask: number };
  readonly randomFully?: boolean;
  readonly rejectWith?: string;
  /** The rule as written, for messages. */
  readonly text: string;
}

/** One command of a restore payload, in order. */
export type IptablesCommand =
  | { readonly kind: 'chain'; readonly chain: string; readonly policy: string }
  | { readonly kind: 'append'; readonly rule: IptablesRule }
  | { readonly kind: 'delete-chain'; readonly chain: string }
  | { readonly kind: 'flush-chain'; readonly chain: string };

/** The commands of one `*table` … `COMMIT` block. */
export interface IptablesTableBlock {
  readonly table: string;
  readonly commands: readonly IptablesCommand[];
}

/** A line the parser could not read. */
export class IptablesParseError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'IptablesParseError';
  }
}

/** Splits a rule line into words the way iptables-restore does: double quotes group, `\"` escapes. */
export function tokenizeRule(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inQuote = false;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && line[i + 1] === '"') {
      cur += '"';
      has = true;
      i++;
    } else if (c === '"') {
      inQuote = !inQuote;
      has = true;
    } else if ((c === ' ' || c === '\t') && !inQuote) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (inQuote) throw new Error('unterminated quote');
  if (has) out.push(cur);
  return out;
}

function parseNumber(text: string | undefined, what: string): number {
  if (text === undefined) throw new Error(`${what}: missing value`);
  const n = text.startsWith('0x') ? Number.parseInt(text.slice(2), 16) : Number(text);
  if (!Number.isFinite(n)) throw new Error(`${what}: bad number ${JSON.stringify(text)}`);
  return n;
}

function parseMarkValue(text: string | undefined): { value: number; mask: number } {
  if (text === undefined) throw new Error('mark: missing value');
  const [v, m] = text.split('/');
  return { value: parseNumber(v, 'mark'), mask: m === undefined ? 0xffffffff : parseNumber(m, 'mark mask') };
}

/** Parses the words after `-A CHAIN`. */
export function parseRule(chain: string, words: readonly string[], text: string): IptablesRule {
  const matches: IptablesMatch[] = [];
  let comment: string | undefined;
  let target: string | undefined;
  let toDestination: string | undefined;
  let markOp: IptablesRule['markOp'];
  let randomFully: boolean | undefined;
  let rejectWith: string | undefined;
  let negate = false;
  let recent: { name?: string; mode?: 'rcheck' | 'set'; seconds?: number } | undefined;
  let addrWhich: 'src' | 'dst' | undefined;

  const flushRecent = (): void => {
    if (!recent) return;
    if (!recent.name || !recent.mode) throw new Error('recent: needs --name and --rcheck or --set');
    matches.push({
      kind: 'recent',
      name: recent.name,
      mode: recent.mode,
      ...(recent.seconds !== undefined ? { seconds: recent.seconds } : {}),
    });
    recent = undefined;
  };

  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const next = (): string => {
      const v = words[++i];
      if (v === undefined) throw new Error(`${w}: missing value`);
      return v;
    };
    if (w === '!') {
      negate = true;
      continue;
    }
    const neg = negate;
    negate = false;
    switch (w) {
      case '-m':
      case '--match': {
        flushRecent();
        const mod = next();
        if (mod === 'recent') recent = {};
        break;
      }
      case '--comment':
        comment = next();
        break;
      case '-s':
      case '--source':
      case '--src':
        matches.push({ kind: 'source', negate: neg, cidr: next() });
        break;
      case '-d':
      case '--destination':
      case '--dst':
        matches.push({ kind: 'destination', negate: neg, cidr: next() });
        break;
      case '-p':
      case '--protocol':
        matches.push({ kind: 'protocol', negate: neg, protocol: next().toLowerCase() });
        break;
      case '-i':
      case '--in-interface':
        matches.push({ kind: 'interface', negate: neg, direction: 'in', name: next() });
        break;
      case '-o':
      case '--out-interface':
        matches.push({ kind: 'interface', negate: neg, direction: 'out', name: next() });
        break;
      case '--dport':
      case '--destination-port': {
        const [a, b] = next().split(':');
        const from = parseNumber(a, '--dport');
        matches.push({
          kind: 'dport',
          negate: neg,
          from,
          to: b === undefined ? from : parseNumber(b, '--dport'),
        });
        break;
      }
      case '--dst-type':
      case '--src-type':
        addrWhich = w === '--dst-type' ? 'dst' : 'src';
        matches.push({ kind: 'addrtype', negate: neg, which: addrWhich, type: next() });
        break;
      case '--mark':
        matches.push({ kind: 'mark', negate: neg, ...parseMarkValue(next()) });
        break;
      case '--ctstate':
        matches.push({ kind: 'ctstate', negate: neg, states: next().split(',') });
        break;
      case '--mode':
        if (next() !== 'random') throw new Error('statistic: only --mode random is supported');
        break;
      case '--probability':
        matches.push({ kind: 'statistic', probability: parseNumber(next(), '--probability') });
        break;
      case '--name':
        if (!recent) throw new Error('--name outside -m recent');
        recent.name = next();
        break;
      case '--rcheck':
      case '--set':
        if (!recent) throw new Error(`${w} outside -m recent`);
        recent.mode = w === '--set' ? 'set' : 'rcheck';
        break;
      case '--seconds':
        if (!recent) throw new Error('--seconds outside -m recent');
        recent.seconds = parseNumber(next(), '--seconds');
        break;
      case '--reap':
      case '--rsource':
        break;
      case '--mask':
        // iptables-save prints the recent module's default source mask; only /32 is modelled.
        next();
        break;
      case '--nfacct-name':
        matches.push({ kind: 'nfacct', name: next() });
        break;
      case '-j':
      case '--jump':
        flushRecent();
        target = next();
        break;
      case '--to-destination':
        toDestination = next();
        break;
      case '--or-mark':
        markOp = { op: 'or', value: parseNumber(next(), '--or-mark'), mask: 0 };
        break;
      case '--xor-mark':
        markOp = { op: 'xor', value: parseNumber(next(), '--xor-mark'), mask: 0 };
        break;
      case '--set-xmark': {
        const { value, mask } = parseMarkValue(next());
        markOp = { op: 'set', value, mask };
        break;
      }
      case '--random-fully':
        randomFully = true;
        break;
      case '--reject-with':
        rejectWith = next();
        break;
      default:
        throw new Error(`unsupported option ${JSON.stringify(w)}`);
    }
  }
  flushRecent();
  return {
    chain,
    matches,
    text,
    ...(comment !== undefined ? { comment } : {}),
    ...(target !== undefined ? { target } : {}),
    ...(toDestination !== undefined ? { toDestination } : {}),
    ...(markOp !== undefined ? { markOp } : {}),
    ...(randomFully !== undefined ? { randomFully } : {}),
    ...(rejectWith !== undefined ? { rejectWith } : {}),
  };
}

/** Parses restore/save text into its table blocks, in order. */
export function parseIptablesRestore(text: string): IptablesTableBlock[] {
  const blocks: IptablesTableBlock[] = [];
  let table: string | undefined;
  let commands: IptablesCommand[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, idx) => {
    const lineNo = idx + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    try {
      if (line.startsWith('*')) {
        if (table !== undefined) throw new Error(`table ${table} not committed`);
        table = line.slice(1);
        commands = [];
        return;
      }
      if (table === undefined) throw new Error(`${JSON.stringify(line)} outside a table`);
      if (line === 'COMMIT') {
        blocks.push({ table, commands });
        table = undefined;
        return;
      }
      if (line.startsWith(':')) {
        const [chain, policy] = line.slice(1).split(/\s+/);
        if (!chain) throw new Error('empty chain name');
        commands.push({ kind: 'chain', chain, policy: policy ?? '-' });
        return;
      }
      const words = tokenizeRule(line);
      const [op, chain, ...rest] = words;
      if (!chain) throw new Error(`${JSON.stringify(line)}: missing chain`);
      if (op === '-A' || op === '--append') {
        commands.push({ kind: 'append', rule: parseRule(chain, rest, line) });
      } else if ((op === '-X' || op === '--delete-chain') && rest.length === 0) {
        commands.push({ kind: 'delete-chain', chain });
      } else if ((op === '-F' || op === '--flush') && rest.length === 0) {
        commands.push({ kind: 'flush-chain', chain });
      } else {
        throw new Error(`unsupported command ${JSON.stringify(op)}`);
      }
    } catch (err) {
      if (err instanceof IptablesParseError) throw err;
      throw new IptablesParseError(lineNo, err instanceof Error ? err.message : String(err));
    }
  });
  if (table !== undefined) throw new IptablesParseError(lines.length, `table ${table} not committed`);
  return blocks;
}
