/**
 * `etcd://HOST:PORT[,HOST:PORT…][/prefix]` store addresses, as given to `--store`.
 *
 * @module
 */

/** etcd's default client port (IANA-assigned). */
export const DEFAULT_ETCD_CLIENT_PORT = 2379;

/** What an etcd store URL names. */
export interface EtcdUrl {
  /** `http://HOST:PORT` or `https://HOST:PORT` (scheme `etcds://` selects TLS). */
  readonly endpoints: string[];
  /** Key prefix inside etcd, without a trailing slash; `''` when the URL has no path. */
  readonly prefix: string;
}

/**
 * Parses `etcd://HOST[:PORT][,HOST[:PORT]…][/prefix]` (or `etcds://` for TLS). The port defaults
 * to 2379; IPv6 hosts are written in brackets (`etcd://[::1]:2379`). Throws a `TypeError` that
 * quotes the input when it is not such a URL.
 */
export function parseEtcdUrl(url: string): EtcdUrl {
  const m = /^(etcds?):\/\/([^/?#]+)(\/[^?#]*)?$/.exec(url.trim());
  if (!m)
    throw new TypeError(`invalid etcd store URL ${JSON.stringify(url)}: want etcd://HOST:PORT[/prefix]`);
  const scheme = m[1] === 'etcds' ? 'https' : 'http';
  const endpoints = (m[2] ?? '').split(',').map((hostPort) => {
    const hp = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(hostPort);
    const port = hp?.[2] === undefined ? DEFAULT_ETCD_CLIENT_PORT : Number(hp[2]);
    if (!hp || port < 1 || port > 65535)
      throw new TypeError(
        `invalid etcd store URL ${JSON.stringify(url)}: bad host:port ${JSON.stringify(hostPort)}`,
      );
    return `${scheme}://${hp[1]}:${port}`;
  });
  let prefix = m[3] ?? '';
  while (prefix.endsWith('/')) prefix = prefix.slice(0, -1);
  return { endpoints, prefix };
}

/** True when the string looks like an etcd store URL (`etcd://` or `etcds://`). */
export function isEtcdUrl(value: string): boolean {
  return /^etcds?:\/\//.test(value.trim());
}
