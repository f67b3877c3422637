// Under CI the real-component suites (network namespaces with iptables, dig, etcd) must run:
// they skip themselves when a binary is missing or the run is not root, which is right on a
// developer's machine and wrong in CI. This global setup turns such a gap into a failed run.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadNative, nativeLoadError } from '../../src/native/load';
import { ETCD_BINARY } from '../helpers/etcd-server';

function onPath(binary: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** What a CI run lacks to run every suite; empty when nothing is missing. */
export function missingForCi(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (network namespace and iptables tests)');
  for (const binary of ['ip', 'iptables-restore', 'iptables-save', 'dig'])
    if (!onPath(binary)) missing.push(binary);
  if (!existsSync(ETCD_BINARY)) missing.push(ETCD_BINARY);
  // The native fast paths are tested on both paths; CI builds them at `npm ci` and must have them.
  const addon = loadNative();
  if (addon === undefined) missing.push(`the native add-on (${nativeLoadError()?.message ?? 'not built'})`);
  else
    for (const part of ['udp', 'tcp'] as const)
      if (addon[part] === undefined) missing.push(`native part ${part}`);
  return missing;
}

export default function setup(): void {
  if (!process.env['CI']) return;
  const missing = missingForCi();
  if (missing.length > 0)
    throw new Error(`CI must run every real-component test, but this machine lacks: ${missing.join(', ')}`);
}
