/**
 * Checks of the service CIDR configuration (`--service-cluster-ip-range`) as the API server does
 * them at start-up.
 *
 * @module
 */
import { Cidr, CidrParseError } from './cidr';

/** Default service CIDR of kubeadm and of svcroute (`--service-cluster-ip-range`). */
export const DEFAULT_SERVICE_CIDR = '10.96.0.0/12';

/**
 * Shortest IPv6 prefix the IPAddress-based allocator (default since Kubernetes 1.33, only one in
 * 1.34) accepts.
 */
export const MIN_IPV6_SERVICE_PREFIX = 64;

const FLAG = '--service-cluster-ip-range';

/**
 * Validates one or two service CIDRs (a list, or a comma-separated string as the flag takes).
 * Returns the API server's messages; empty when valid:
 * - `invalid CIDR address: X`
 * - `--service-cluster-ip-range must not contain more than two entries`
 * - `--service-cluster-ip-range[0] and --service-cluster-ip-range[1] must be of different IP family`
 * - `shortest allowed prefix length for service CIDR is 64, got 48`
 */
export function validateServiceCIDRs(cidrs: string | readonly string[]): string[] {
  const list = typeof cidrs === 'string' ? cidrs.split(',').map((s) => s.trim()) : [...cidrs];
  const errors: string[] = [];
  if (list.length === 0 || (list.length === 1 && list[0] === '')) {
    return [`${FLAG} must contain at least one entry`];
  }
  if (list.length > 2) errors.push(`${FLAG} must not contain more than two entries`);
  const parsed: Cidr[] = [];
  for (const text of list) {
    try {
      const cidr = Cidr.parse(text);
      parsed.push(cidr);
      if (cidr.family === 'IPv6' && cidr.prefixLength < MIN_IPV6_SERVICE_PREFIX) {
        errors.push(
          `shortest allowed prefix length for service CIDR is ${MIN_IPV6_SERVICE_PREFIX}, got ${cidr.prefixLength}`,
        );
      }
    } catch (e) {
      if (!(e instanceof CidrParseError)) throw e;
      errors.push(e.message);
    }
  }
  const [a, b] = parsed;
  if (list.length === 2 && a && b && a.family === b.family) {
    errors.push(`${FLAG}[0] and ${FLAG}[1] must be of different IP family`);
  }
  return errors;
}
