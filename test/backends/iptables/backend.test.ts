import { describe, expect, it } from 'vitest';
import { IptablesBackend } from '../../../src/backends/iptables/backend';
import { BASE_CHAIN_JUMPS } from '../../../src/backends/iptables/constants';
import type { CommandResult, CommandRunner } from '../../../src/backends/iptables/runner';
import type { RoutingSnapshot, SnapshotUpdate } from '../../../src/core/snapshot';
import { IptablesState } from '../../../src/testing/iptables-state';
import { entry, ep, port, snapshot } from './fixtures';
import { ManualClock } from './manual-clock';

/** A fake iptables: restores go into an {@link IptablesState}; jump checks/inserts are recorded. */
function fakeIptables(opts: { failRestore?: () => boolean } = {}) {
  const kernel = new IptablesState();
  const calls: string[][] = [];
  const jumps = new Set<string>();
  const runner: CommandRunner = async (file, args, stdin): Promise<CommandResult> => {
    calls.push([file, ...args]);
    if (file.endsWith('-restore')) {
      if (opts.failRestore?.()) return { code: 1, stdout: '', stderr: 'iptables-restore: line 3 failed' };
      try {
        kernel.restore(stdin ?? '', { noflush: args.includes('--noflush') });
        return { code: 0, stdout: '', stderr: '' };
      } catch (e) {
        return { code: 2, stdout: '', stderr: String(e) };
      }
    }
    if (file.endsWith('-save')) return { code: 0, stdout: kernel.save(), stderr: '' };
    const t = args.indexOf('-t');
    const table = args[t + 1]!;
    const op = args[t + 2]!;
    const chain = args[t + 3]!;
    const key = `${table} ${args.slice(t + 3).join(' ')}`;
    switch (op) {
      case '-N':
        if (kernel.hasChain(table, chain)) return { code: 1, stdout: '', stderr: 'Chain already exists.' };
        kernel.restore(`*${table}\n:${chain} - [0:0]\nCOMMIT\n`, { noflush: true });
        return { code: 0, stdout: '', stderr: '' };
      case '-C':
        return { code: jumps.has(key) ? 0 : 1, stdout: '', stderr: '' };
      case '-I':
        jumps.add(key);
        return { code: 0, stdout: '', stderr: '' };
      case '-D':
        return { code: jumps.delete(key) ? 0 : 1, stdout: '', stderr: '' };
    }
    return { code: 2, stdout: '', stderr: `unexpected ${op}` };
  };
  return { kernel, calls, jumps, runner };
}

function upd(
  previous: RoutingSnapshot | undefined,
  current: RoutingSnapshot,
  services: string[],
): SnapshotUpdate {
  return { previous, current, changes: [], changedServices: new Set(services) };
}

const s1 = snapshot([entry(port('ns1', 'svc1', { clusterIPs: ['172.30.0.41'] }), [ep('10.180.0.1')])]);
const s2 = snapshot(
  [entry(port('ns1', 'svc1', { clusterIPs: ['172.30.0.41'] }), [ep('10.180.0.1'), ep('10.180.0.2')])],
  2,
);
const s3 = snapshot([entry(port('ns1', 'svc1', { clusterIPs: ['172.30.0.41'] }), [ep('10.180.0.2')])], 3);

describe('IptablesBackend', () => {
  it('ensures base jumps on the first (full) sync and restores with --noflush', async () => {
    const clock = new ManualClock();
    const fake = fakeIptables();
    const b = new IptablesBackend({ runner: fake.runner, clock, minSyncIntervalMs: 1000, nodeName: 'n' });
    const done = b.sync(upd(undefined, s1, ['ns1/svc1']));
    await clock.advance(0);
    await done;
    expect(fake.jumps.size).toBe(BASE_CHAIN_JUMPS.length);
    const restores = fake.calls.filter((c) => c[0] === 'iptables-restore');
    expect(restores).toHaveLength(1);
    expect(restores[0]).toEqual(['iptables-restore', '-w', '5', '--noflush', '--counters']);
    expect(fake.kernel.hasChain('nat', 'KUBE-SVC-XPGD46QRK7WJZT7O')).toBe(true);
  });

  it('deletes per-service chains an earlier run left in the kernel, keeping those it uses', async () => {
    const clock = new ManualClock();
    const fake = fakeIptables();
    // What a crashed earlier run left: a chain of a service gone since, one of a service still
    // there (re-used as is), and a chain that is not kube-proxy's.
    fake.kernel.restore(
      '*nat\n:KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]\n:KUBE-SEP-BBBBBBBBBBBBBBBB - [0:0]\n:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]\n:MY-CHAIN - [0:0]\n-A KUBE-SVC-AAAAAAAAAAAAAAAA -j KUBE-SEP-BBBBBBBBBBBBBBBB\nCOMMIT\n',
      { noflush: true },
    );
    const b = new IptablesBackend({ runner: fake.runner, clock, nodeName: 'n' });
    const done = b.sync(upd(undefined, s1, ['ns1/svc1']));
    await clock.advance(0);
    await done;
    expect(fake.calls.some((c) => c[0] === 'iptables-save' && c.includes('nat'))).toBe(true);
    expect(fake.kernel.hasChain('nat', 'KUBE-SVC-AAAAAAAAAAAAAAAA')).toBe(false);
    expect(fake.kernel.hasChain('nat', 'KUBE-SEP-BBBBBBBBBBBBBBBB')).toBe(false);
    expect(fake.kernel.hasChain('nat', 'KUBE-SVC-XPGD46QRK7WJZT7O')).toBe(true);
    expect(fake.kernel.hasChain('nat', 'MY-CHAIN')).toBe(true);
    // Partial syncs do not list the table again.
    const saves = fake.calls.filter((c) => c[0] === 'iptables-save').length;
    const next = b.sync(upd(s1, s2, ['ns1/svc1']));
    await clock.advance(1000);
    await next;
    expect(fake.calls.filter((c) => c[0] === 'iptables-save')).toHaveLength(saves);
  });

  it('batches a burst into one restore after the minimum interval', async () => {
    const clock = new ManualClock();
    const fake = fakeIptables();
    const b = new IptablesBackend({ runner: fake.runner, clock, minSyncIntervalMs: 1000 });
    const first = b.sync(upd(undefined, s1, ['ns1/svc1']));
    await clock.advance(0);
    await first;
    const a = b.sync(upd(s1, s2, ['ns1/svc1']));
    const c = b.sync(upd(s2, s3, ['ns1/svc1']));
    await clock.advance(999);
    expect(fake.calls.filter((x) => x[0] === 'iptables-restore')).toHaveLength(1);
    await clock.advance(1);
    await Promise.all([a, c]);
    const restores = fake.calls.filter((x) => x[0] === 'iptables-restore');
    expect(restores).toHaveLength(2);
    // The partial sync does not re-run the ensure step.
    expect(fake.calls.filter((x) => x.includes('-C')).length).toBe(BASE_CHAIN_JUMPS.length);
    expect(
      fake.kernel
        .rules('nat', 'KUBE-SVC-XPGD46QRK7WJZT7O')!
        .map((r) => r.text)
        .join('\n'),
    ).not.toContain('10.180.0.1:80');
  });

  it('keeps the old rules on failure, reports it, and retries with a full sync', async () => {
    const clock = new ManualClock();
    let fail = false;
    const fake = fakeIptables({ failRestore: () => fail });
    const b = new IptablesBackend({
      runner: fake.runner,
      clock,
      minSyncIntervalMs: 10,
      retryIntervalMs: 5000,
    });
    const errors: Error[] = [];
    const synced: boolean[] = [];
    b.on('error', (e) => errors.push(e));
    b.on('synced', (e) => synced.push(e.full));
    const p1 = b.sync(upd(undefined, s1, ['ns1/svc1']));
    await clock.advance(0);
    await p1;
    const before = fake.kernel.save();
    fail = true;
    const p2 = b.sync(upd(s1, s2, ['ns1/svc1']));
    await clock.advance(10);
    await expect(p2).rejects.toThrow(/iptables-restore failed/);
    expect(errors).toHaveLength(1);
    expect(fake.kernel.save()).toBe(before);
    fail = false;
    await clock.advance(5000);
    expect(synced).toEqual([true, true]);
    expect(fake.kernel.save()).not.toBe(before);
  });

  it('cleanup removes the jumps and every chain it created', async () => {
    const clock = new ManualClock();
    const fake = fakeIptables();
    fake.kernel.restore('*nat\n:OTHER - [0:0]\nCOMMIT\n', { noflush: true });
    const b = new IptablesBackend({ runner: fake.runner, clock });
    const p = b.sync(upd(undefined, s1, ['ns1/svc1']));
    await clock.advance(0);
    await p;
    await b.cleanup();
    expect(fake.jumps.size).toBe(0);
    const chains = fake.kernel
      .save()
      .split('\n')
      .filter((l) => l.startsWith(':'));
    expect(chains.some((l) => l.includes('KUBE-'))).toBe(false);
    expect(fake.kernel.hasChain('nat', 'OTHER')).toBe(true);
    await b.close();
    await expect(b.sync(upd(s1, s2, []))).rejects.toThrow(/closed/);
  });

  it('follows a snapshot source and folds its bursts', async () => {
    const clock = new ManualClock();
    const fake = fakeIptables();
    const listeners = new Set<(u: SnapshotUpdate) => void>();
    let current = s1;
    const source = {
      snapshot: () => current,
      on: (_e: 'snapshot', l: (u: SnapshotUpdate) => void) => listeners.add(l),
      off: (_e: 'snapshot', l: (u: SnapshotUpdate) => void) => listeners.delete(l),
    };
    const b = new IptablesBackend({ runner: fake.runner, clock, minSyncIntervalMs: 500 });
    const synced: boolean[] = [];
    b.on('synced', (e) => synced.push(e.full));
    const detach = b.follow(source);
    await clock.advance(0);
    expect(synced).toEqual([true]);
    for (const next of [s2, s3]) {
      const prev = current;
      current = next;
      for (const l of listeners) l(upd(prev, next, ['ns1/svc1']));
    }
    await clock.advance(500);
    expect(synced).toEqual([true, false]);
    detach();
    expect(listeners.size).toBe(0);
    await b.close();
  });

  it('uses ip6tables binaries for IPv6', async () => {
    const clock = new ManualClock();
    const fake = fakeIptables();
    const b = new IptablesBackend({ runner: fake.runner, clock, ipFamily: 'IPv6' });
    const p = b.sync(upd(undefined, snapshot([]), []));
    await clock.advance(0);
    await p;
    expect(fake.calls.some((c) => c[0] === 'ip6tables-restore')).toBe(true);
    expect(fake.calls.every((c) => c[0]!.startsWith('ip6tables'))).toBe(true);
  });
});
