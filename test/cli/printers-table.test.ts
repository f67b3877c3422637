import { describe, expect, it } from 'vitest';
import { printTable, tabwrite, terminalSafeCell } from '../../src/cli/printers';
import type { Pod, Service } from '../../src/core/types';

const NOW = new Date('2025-03-02T10:00:00Z');
const CREATED = '2025-03-02T09:00:00Z';

function pod(
  spec: Record<string, unknown>,
  status: Record<string, unknown>,
  meta: Record<string, unknown> = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', creationTimestamp: CREATED, ...meta },
    spec: { containers: [{ name: 'main', image: 'x' }], ...spec },
    status,
  } as unknown as Pod;
}

// READY, STATUS, RESTARTS of the single row.
function cells(p: Pod): string[] {
  const row = printTable('Pod', [p], { now: NOW }).split('\n')[1] ?? '';
  return row.split(/ {3,}/).slice(1, 4);
}

const running = { running: { startedAt: CREATED } };
const readyCondition = { type: 'Ready', status: 'True' };

describe('pod READY / STATUS / RESTARTS (kubectl printPod)', () => {
  it('reports init containers in progress, failing and waiting', () => {
    const twoInits = { initContainers: [{ name: 'a' }, { name: 'b' }] };
    expect(
      cells(
        pod(twoInits, {
          phase: 'Pending',
          initContainerStatuses: [
            { name: 'a', state: { terminated: { exitCode: 0, reason: 'Completed' } }, restartCount: 0 },
            { name: 'b', state: { waiting: { reason: 'PodInitializing' } }, restartCount: 0 },
          ],
        }),
      ),
    ).toEqual(['0/1', 'Init:1/2', '0']);
    expect(
      cells(
        pod(twoInits, {
          phase: 'Pending',
          initContainerStatuses: [
            {
              name: 'a',
              state: { waiting: { reason: 'CrashLoopBackOff' } },
              restartCount: 3,
              lastState: { terminated: { exitCode: 1, finishedAt: '2025-03-02T09:55:00Z' } },
            },
          ],
        }),
      ),
    ).toEqual(['0/1', 'Init:CrashLoopBackOff', '3 (5m ago)']);
    const failed = (terminated: Record<string, unknown>) =>
      cells(
        pod(twoInits, { phase: 'Pending', initContainerStatuses: [{ name: 'a', state: { terminated } }] }),
      )[1];
    expect(failed({ exitCode: 1 })).toBe('Init:ExitCode:1');
    expect(failed({ exitCode: 137, signal: 9 })).toBe('Init:Signal:9');
    expect(failed({ exitCode: 1, reason: 'Error' })).toBe('Init:Error');
  });

  it('reports a crashing container with the age of its last restart', () => {
    expect(
      cells(
        pod(
          {},
          {
            phase: 'Running',
            containerStatuses: [
              {
                name: 'main',
                ready: false,
                restartCount: 5,
                state: { waiting: { reason: 'CrashLoopBackOff' } },
                lastState: { terminated: { exitCode: 1, finishedAt: '2025-03-02T09:58:00Z' } },
              },
            ],
          },
        ),
      ),
    ).toEqual(['0/1', 'CrashLoopBackOff', '5 (2m ago)']);
  });

  it('turns Completed back into Running or NotReady while a container still runs', () => {
    const spec = { containers: [{ name: 'main' }, { name: 'side' }] };
    const statuses = [
      { name: 'main', ready: false, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
      { name: 'side', ready: true, state: running },
    ];
    expect(
      cells(pod(spec, { phase: 'Running', containerStatuses: statuses, conditions: [readyCondition] })),
    ).toEqual(['1/2', 'Running', '0']);
    expect(cells(pod(spec, { phase: 'Running', containerStatuses: statuses }))[1]).toBe('NotReady');
  });

  it('counts started sidecars (restartable init containers) and their restarts', () => {
    expect(
      cells(
        pod(
          { initContainers: [{ name: 'proxy', restartPolicy: 'Always' }] },
          {
            phase: 'Running',
            conditions: [{ type: 'Initialized', status: 'True' }, readyCondition],
            initContainerStatuses: [
              {
                name: 'proxy',
                started: true,
                ready: true,
                restartCount: 1,
                state: running,
                lastState: { terminated: { exitCode: 1, finishedAt: '2025-03-02T09:50:00Z' } },
              },
            ],
            containerStatuses: [{ name: 'main', ready: true, restartCount: 0, state: running }],
          },
        ),
      ),
    ).toEqual(['2/2', 'Running', '1 (10m ago)']);
  });

  it('says Terminating, Unknown on a lost node, and SchedulingGated', () => {
    const deleting = { deletionTimestamp: '2025-03-02T09:59:00Z' };
    expect(cells(pod({}, { phase: 'Running' }, deleting))[1]).toBe('Terminating');
    expect(cells(pod({}, { phase: 'Running', reason: 'NodeLost' }, deleting))[1]).toBe('Unknown');
    expect(cells(pod({}, { phase: 'Succeeded' }, deleting))[1]).toBe('Succeeded');
    expect(
      cells(
        pod(
          {},
          {
            phase: 'Pending',
            conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated' }],
          },
        ),
      )[1],
    ).toBe('SchedulingGated');
  });

  it('counts true readiness gates in the wide READINESS GATES column', () => {
    const p = pod(
      { readinessGates: [{ conditionType: 'example.com/lb' }, { conditionType: 'example.com/dns' }] },
      {
        phase: 'Running',
        podIPs: [{ ip: '10.0.0.1' }],
        conditions: [{ type: 'example.com/lb', status: 'True' }],
      },
    );
    const row = printTable('Pod', [p], { now: NOW, wide: true }).split('\n')[1] ?? '';
    expect(row.split(/ {3,}/).slice(5)).toEqual(['10.0.0.1', '<none>', '<none>', '1/2']);
  });
});

describe('service cells', () => {
  const svc = (spec: Record<string, unknown>, status: Record<string, unknown> = {}): Service =>
    ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's', namespace: 'default', creationTimestamp: CREATED },
      spec,
      status,
    }) as unknown as Service;
  const row = (s: Service, wide = false) =>
    (printTable('Service', [s], { now: NOW, wide }).split('\n')[1] ?? '').split(/ {3,}/);

  it('prints load balancer ingress sorted and de-duplicated, <pending> without any', () => {
    const lb = svc(
      {
        type: 'LoadBalancer',
        clusterIPs: ['10.96.0.9'],
        ports: [{ port: 53, protocol: 'UDP', nodePort: 30053 }],
      },
      { loadBalancer: { ingress: [{ ip: '203.0.113.9' }, { ip: '198.51.100.2' }, { ip: '203.0.113.9' }] } },
    );
    expect(row(lb, true).slice(1, 5)).toEqual([
      'LoadBalancer',
      '10.96.0.9',
      '198.51.100.2,203.0.113.9',
      '53:30053/UDP',
    ]);
    expect(row(lb)[3]).toBe('198.51.100.2,...');
    expect(row(svc({ type: 'LoadBalancer', clusterIPs: ['10.96.0.9'], ports: [] }))[3]).toBe('<pending>');
  });

  it('prints ExternalName targets, headless None and <none> without ports', () => {
    expect(row(svc({ type: 'ExternalName', externalName: 'db.example.com' })).slice(1, 5)).toEqual([
      'ExternalName',
      '<none>',
      'db.example.com',
      '<none>',
    ]);
    expect(
      row(
        svc({
          type: 'ClusterIP',
          clusterIP: 'None',
          clusterIPs: ['None'],
          ports: [
            { port: 53, protocol: 'UDP' },
            { port: 53, protocol: 'TCP' },
          ],
        }),
      ).slice(2, 5),
    ).toEqual(['None', '<none>', '53/UDP,53/TCP']);
  });
});

describe('tabwrite (kubectl tabwriter)', () => {
  it('treats a tab inside a cell as a cell break, as the tabwriter sees text', () => {
    expect(tabwrite('A\tB\tC\na\tb\tc\td\n')).toBe('A     B     C\na     b     c     d\n');
  });

  it('lays columns out per block of lines that have them', () => {
    expect(tabwrite('x\ty\nlonger-cell\tz\nalone\nq\tr\n')).toBe(
      'x             y\nlonger-cell   z\nalone\nq     r\n',
    );
  });
});

describe('terminalSafeCell', () => {
  it('cuts at the first line break and escapes ESC', () => {
    expect(terminalSafeCell('Bad\nThings')).toBe('Bad...');
    expect(terminalSafeCell('a\rb')).toBe('a...');
    expect(terminalSafeCell('\u001b[31mred')).toBe('^[[31mred');
    expect(terminalSafeCell('plain')).toBe('plain');
  });
});
