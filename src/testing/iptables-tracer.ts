/**
 * Walks a packet through iptables rules the way netfilter would for the first packet of a
 * connection, to test rule renderers by behaviour rather than text (as kube-proxy's own
 * `tracePacket` tests do). Random `statistic` matches are enumerated: the result lists every
 * possible outcome with its exact probability. `recent` matches read a given set of lists the
 * client is already in (ClientIP affinity state).
 *
 * Path modelled: a packet from outside goes nat PREROUTING, then filter INPUT (destination local
 * after DNAT) or FORWARD followed by nat POSTROUTING; a packet from the node itself goes nat
 * OUTPUT, filter OUTPUT, nat POSTROUTING.
 *
 * @module
 */
import { cidrContains, type ParsedIp, parseCidr, parseIp } from '../backends/iptables/ip';
import type { IptablesMatch, IptablesRule } from './iptables-parser';
import { IptablesState } from './iptables-state';

/** The first packet of a connection. */
export interface TracePacket {
  readonly source: string;
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly destination: string;
  readonly port: number;
  /** Sent by a process on the node itself (OUTPUT path) rather than arriving from outside. */
  readonly fromNode?: boolean;
}

/** Node facts the rules depend on. */
export interface TraceOptions {
  /** Addresses of the node (`-m addrtype LOCAL`); loopback is always local. */
  readonly localAddresses?: readonly string[];
  /** `recent` lists the source address is already in (its ClientIP affinity state). */
  readonly recentLists?: ReadonlySet<string> | readonly string[];
}

/** One way the packet can go, with its probability. */
export interface TraceOutcome {
  readonly probability: number;
  /** ACCEPT: delivered (to a DNAT target or a local socket); DROP / REJECT: stopped. */
  readonly verdict: 'ACCEPT' | 'DROP' | 'REJECT';
  /** `ip:port` the packet was DNATed to, if any. */
  readonly dnat?: string;
  /** Whether POSTROUTING masqueraded it (source NAT to the node's address). */
  readonly masquerade: boolean;
  /** Recent lists a `--set` added the client to. */
  readonly recentSet: readonly string[];
  /** `table:chain` of every chain entered, in order. */
  readonly chains: readonly string[];
}

interface Ctx {
  prob: number;
  mark: number;
  dnat: { ip: string; port: number } | undefined;
  recentSet: string[];
  chains: string[];
}

type ChainEnd = { ctx: Ctx; end: 'continue' | 'ACCEPT' | 'DROP' | 'REJECT' | 'RETURN' };

const MAX_DEPTH = 64;

class Tracer {
  private readonly local: ParsedIp[];
  private readonly recent: ReadonlySet<string>;
  constructor(
    private readonly state: IptablesState,
    private readonly pkt: TracePacket,
    opts: TraceOptions,
  ) {
    this.local = [...(opts.localAddresses ?? []), '::1']
      .map((a) => parseIp(a))
      .filter((a): a is ParsedIp => a !== undefined);
    this.recent = new Set(opts.recentLists ?? []);
  }

  private isLocal(addr: string): boolean {
    const ip = parseIp(addr);
    if (!ip) return false;
    if (ip.family === 'IPv4' && ip.bytes[0] === 127) return true;
    return this.local.some((l) => l.text === ip.text);
  }

  private dest(ctx: Ctx): { ip: string; port: number } {
    return ctx.dnat ?? { ip: this.pkt.destination, port: this.pkt.port };
  }

  private matchCidr(spec: string, addr: string): boolean {
    const ip = parseIp(addr);
    if (!ip) return false;
    const cidr = parseCidr(spec.includes('/') ? spec : `${spec}/${ip.family === 'IPv4' ? 32 : 128}`);
    return cidr !== undefined && cidrContains(cidr, ip);
  }

  /** Deterministic matches; statistic is handled by the caller. */
  private matches(m: IptablesMatch, ctx: Ctx, table: string): boolean {
    const d = this.dest(ctx);
    let r: boolean;
    switch (m.kind) {
      case 'source':
        r = this.matchCidr(m.cidr, this.pkt.source);
        break;
      case 'destination':
        r = this.matchCidr(m.cidr, d.ip);
        break;
      case 'protocol':
        r = m.protocol === this.pkt.protocol;
        break;
      case 'dport':
        r = d.port >= m.from && d.port <= m.to;
        break;
      case 'addrtype':
        if (m.type !== 'LOCAL') throw new Error(`tracer: addrtype ${m.type} not modelled`);
        r = this.isLocal(m.which === 'src' ? this.pkt.source : d.ip);
        break;
      case 'mark':
        r = (ctx.mark & m.mask) === (m.value & m.mask);
        break;
      case 'ctstate': {
        const states = new Set(['NEW']);
        if (ctx.dnat && table === 'filter') states.add('DNAT');
        r = m.states.some((s) => states.has(s));
        break;
      }
      case 'recent':
        return m.mode === 'set' ? true : this.recent.has(m.name);
      case 'nfacct':
      case 'statistic':
        return true;
      case 'interface':
        throw new Error('tracer: interface matches are not modelled');
    }
    return 'negate' in m && m.negate ? !r : r;
  }

  runChain(table: string, chain: string, ctx: Ctx, depth: number): ChainEnd[] {
    if (depth > MAX_DEPTH) throw new Error(`tracer: jump depth exceeded at ${table}:${chain}`);
    const rules = this.state.rules(table, chain);
    if (!rules) throw new Error(`tracer: no chain ${table}:${chain}`);
    const entered: Ctx = { ...ctx, chains: [...ctx.chains, `${table}:${chain}`] };
    return this.runRules(table, rules, 0, entered, depth);
  }

  private runRules(
    table: string,
    rules: readonly IptablesRule[],
    start: number,
    ctx: Ctx,
    depth: number,
  ): ChainEnd[] {
    for (let i = start; i < rules.length; i++) {
      const rule = rules[i]!;
      let c = ctx;
      let alternative: ChainEnd[] = [];
      let matched = true;
      for (const m of rule.matches) {
        if (m.kind === 'statistic') {
          // Branch: the rule does not match with probability 1-p.
          if (m.probability < 1) {
            alternative = this.runRules(
              table,
              rules,
              i + 1,
              { ...c, prob: c.prob * (1 - m.probability) },
              depth,
            );
          }
          c = { ...c, prob: c.prob * m.probability };
          continue;
        }
        if (!this.matches(m, c, table)) {
          matched = false;
          break;
        }
      }
      if (!matched) {
        if (alternative.length > 0)
          throw new Error('tracer: statistic before a failing match is not modelled');
        continue;
      }
      const taken = c.prob > 0 ? this.applyTarget(table, rule, rules, i, c, depth) : [];
      return [...taken, ...alternative];
    }
    return [{ ctx, end: 'continue' }];
  }

  private applyTarget(
    table: string,
    rule: IptablesRule,
    rules: readonly IptablesRule[],
    index: number,
    ctx0: Ctx,
    depth: number,
  ): ChainEnd[] {
    let ctx = ctx0;
    for (const m of rule.matches) {
      if (m.kind === 'recent' && m.mode === 'set') ctx = { ...ctx, recentSet: [...ctx.recentSet, m.name] };
    }
    const next = (c: Ctx): ChainEnd[] => this.runRules(table, rules, index + 1, c, depth);
    switch (rule.target) {
      case undefined:
        return next(ctx);
      case 'ACCEPT':
      case 'DROP':
      case 'REJECT':
      case 'RETURN':
        return [{ ctx, end: rule.target }];
      case 'MARK': {
        const op = rule.markOp;
        if (!op) throw new Error(`tracer: MARK without operand: ${rule.text}`);
        const mark =
          op.op === 'or'
            ? ctx.mark | op.value
            : op.op === 'xor'
              ? ctx.mark ^ op.value
              : (ctx.mark & ~op.mask) ^ op.value;
        return next({ ...ctx, mark: mark >>> 0 });
      }
      case 'DNAT': {
        const to = rule.toDestination;
        if (!to) throw new Error(`tracer: DNAT without --to-destination: ${rule.text}`);
        const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(to);
        if (!m) throw new Error(`tracer: unsupported --to-destination ${to}`);
        return [{ ctx: { ...ctx, dnat: { ip: m[1]!, port: Number(m[2]) } }, end: 'ACCEPT' }];
      }
      case 'MASQUERADE':
        return [{ ctx: { ...ctx, chains: [...ctx.chains, 'MASQUERADE'] }, end: 'ACCEPT' }];
      default: {
        const results: ChainEnd[] = [];
        for (const r of this.runChain(table, rule.target, ctx, depth + 1)) {
          if (r.end === 'continue' || r.end === 'RETURN') results.push(...next(r.ctx));
          else results.push(r);
        }
        return results;
      }
    }
  }

  /** Runs a built-in chain; falling off its end applies the ACCEPT policy. */
  runBuiltin(table: string, chain: string, ctx: Ctx): ChainEnd[] {
    if (!this.state.hasChain(table, chain)) return [{ ctx, end: 'ACCEPT' }];
    return this.runChain(table, chain, ctx, 0).map((r) =>
      r.end === 'continue' || r.end === 'RETURN' ? { ctx: r.ctx, end: 'ACCEPT' } : r,
    );
  }

  trace(): TraceOutcome[] {
    const start: Ctx = { prob: 1, mark: 0, dnat: undefined, recentSet: [], chains: [] };
    const out: TraceOutcome[] = [];
    const finish = (c: Ctx, verdict: TraceOutcome['verdict'], masquerade: boolean): void => {
      out.push({
        probability: c.prob,
        verdict,
        ...(c.dnat ? { dnat: formatHostPort(c.dnat.ip, c.dnat.port) } : {}),
        masquerade,
        recentSet: c.recentSet,
        chains: c.chains,
      });
    };
    const natHook = this.pkt.fromNode ? 'OUTPUT' : 'PREROUTING';
    for (const nat of this.runBuiltin('nat', natHook, start)) {
      if (nat.end !== 'ACCEPT') {
        finish(nat.ctx, nat.end === 'REJECT' ? 'REJECT' : 'DROP', false);
        continue;
      }
      const toLocal = !this.pkt.fromNode && this.isLocal(this.dest(nat.ctx).ip);
      const filterHook = this.pkt.fromNode ? 'OUTPUT' : toLocal ? 'INPUT' : 'FORWARD';
      for (const f of this.runBuiltin('filter', filterHook, nat.ctx)) {
        if (f.end !== 'ACCEPT') {
          finish(f.ctx, f.end === 'REJECT' ? 'REJECT' : 'DROP', false);
          continue;
        }
        if (toLocal) {
          finish(f.ctx, 'ACCEPT', false);
          continue;
        }
        for (const p of this.runBuiltin('nat', 'POSTROUTING', f.ctx)) {
          finish(
            p.ctx,
            p.end === 'ACCEPT' ? 'ACCEPT' : p.end === 'REJECT' ? 'REJECT' : 'DROP',
            p.ctx.chains.includes('MASQUERADE'),
          );
        }
      }
    }
    return out;
  }
}

function formatHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * Traces `packet` through `rules`: an {@link IptablesState}, or restore text which is applied to
 * an empty state together with kube-proxy's base-chain jumps. Returns every outcome; their
 * probabilities sum to 1.
 */
export function tracePacket(
  rules: IptablesState | string,
  packet: TracePacket,
  options: TraceOptions = {},
): TraceOutcome[] {
  let state: IptablesState;
  if (typeof rules === 'string') {
    state = new IptablesState();
    state.ensureBaseJumps();
    state.restore(rules, { noflush: true });
  } else {
    state = rules;
  }
  return new Tracer(state, packet, options).trace();
}

/**
 * Folds outcomes by what the client observes: `ip:port` of the DNAT target (or the verdict
 * when there is none) → total probability.
 */
export function outcomeDistribution(outcomes: readonly TraceOutcome[]): Map<string, number> {
  const dist = new Map<string, number>();
  for (const o of outcomes) {
    const key = o.verdict === 'ACCEPT' ? (o.dnat ?? 'ACCEPT') : o.verdict;
    dist.set(key, (dist.get(key) ?? 0) + o.probability);
  }
  return dist;
}
