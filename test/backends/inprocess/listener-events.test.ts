import { afterEach, describe, expect, it } from 'vitest';
import { InprocessProxyBackend, type ListenerInfo } from '../../../src/backends/inprocess';
import { loopbackPod, registryWith, service, waitFor } from './helpers';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const web = (port: number, nodePort = 31882) =>
  service('web', {
    type: 'NodePort',
    selector: { app: 'web' },
    ports: [{ name: 'http', port, targetPort: 8080, nodePort }],
  });

const brief = (l: ListenerInfo) =>
  `${l.kind} ${l.address}:${l.boundPort === l.port ? l.port : 'auto'} ${l.namespace}/${l.service}:${l.servicePort}`;

describe('InprocessProxyBackend listener events', () => {
  it('reports what a listener served, and a change of the port an open listener serves', async () => {
    const registry = await registryWith([web(80), loopbackPod('web-1', '127.0.0.76', { app: 'web' })]);
    const proxy = new InprocessProxyBackend({
      nodeAddresses: ['127.0.0.1'],
      portalAddresses: ['127.0.0.75'],
      portalPort: 'auto',
      localAddresses: () => ['127.0.0.1', '127.0.0.75'],
    });
    cleanups.push(
      () => registry.close(),
      () => proxy.close(),
    );
    const events: string[] = [];
    proxy.on('listening', (l) => events.push(`+ ${brief(l)}`));
    proxy.on('listenerClosed', (l) => events.push(`- ${brief(l)}`));
    proxy.on('listenerChanged', (l, prev) => events.push(`~ ${brief(prev)} => ${brief(l)}`));
    const detach = await proxy.attach(registry);
    cleanups.push(detach);
    expect(events.sort()).toEqual([
      '+ nodePort 127.0.0.1:31882 default/web:80',
      '+ portal 127.0.0.75:auto default/web:80',
    ]);

    // The port changes: both listeners stay (node port and automatic portal port are unchanged).
    events.length = 0;
    await registry.apply(web(81));
    await registry.settled();
    await proxy.idle();
    expect(events.sort()).toEqual([
      '~ nodePort 127.0.0.1:31882 default/web:80 => nodePort 127.0.0.1:31882 default/web:81',
      '~ portal 127.0.0.75:auto default/web:80 => portal 127.0.0.75:auto default/web:81',
    ]);
    expect(proxy.openListeners().map((l) => l.servicePort)).toEqual([81, 81]);

    // The node port changes: its listener is replaced, the closed one names what it served.
    events.length = 0;
    await registry.apply(web(81, 31883));
    await registry.settled();
    await waitFor(() => events.length >= 2);
    await proxy.idle();
    expect(events.sort()).toEqual([
      '+ nodePort 127.0.0.1:31883 default/web:81',
      '- nodePort 127.0.0.1:31882 default/web:81',
    ]);

    // The service goes: closed lines still name it, although the snapshot no longer has it.
    events.length = 0;
    await registry.delete('Service', 'default', 'web');
    await registry.settled();
    await proxy.idle();
    expect(events.sort()).toEqual([
      '- nodePort 127.0.0.1:31883 default/web:81',
      '- portal 127.0.0.75:auto default/web:81',
    ]);
    expect(proxy.openListeners()).toEqual([]);
  });
});
