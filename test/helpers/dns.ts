import dgram from 'node:dgram';

/**
 * Sends one DNS message over UDP to `host`:`port` and resolves to the first datagram that
 * comes back, or undefined after `timeoutMs` (a server that drops the message).
 */
export function udpExchange(
  port: number,
  msg: Buffer,
  timeoutMs = 1000,
  host = '127.0.0.1',
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.send(msg, port, host);
  });
}

/** Like {@link udpExchange}, failing when no answer comes. */
export async function udpAnswer(port: number, msg: Buffer, timeoutMs = 2000): Promise<Buffer> {
  const reply = await udpExchange(port, msg, timeoutMs);
  if (!reply) throw new Error(`no answer from 127.0.0.1:${port} within ${timeoutMs} ms`);
  return reply;
}
