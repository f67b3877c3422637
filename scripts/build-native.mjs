// Builds svcroute's optional native fast paths (native/, binding.gyp) with node-gyp at install
// time. A machine without a C compiler, Python or Node's headers still gets a working package:
// the build failing is reported in one line and svcroute runs its pure JavaScript paths.
// SVCROUTE_NATIVE=0 skips the build; SVCROUTE_NATIVE=required makes a failed build fail the install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const mode = process.env.SVCROUTE_NATIVE ?? '';

function nodeGyp() {
  // npm hands lifecycle scripts the node-gyp it bundles; outside npm, look next to this node.
  const candidates = [
    process.env.npm_config_node_gyp,
    join(
      dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  ];
  return candidates.find((p) => p && existsSync(p));
}

if (mode === '0' || process.platform !== 'linux') {
  process.exit(0);
}
// Node's own installation ships its headers (<prefix>/include/node): build against those rather
// than downloading them, so an offline machine builds too.
function nodeDir() {
  const prefix = resolve(dirname(process.execPath), '..');
  const fromNpm = process.env.npm_config_nodedir;
  if (fromNpm) return fromNpm;
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

const gyp = nodeGyp();
const dir = nodeDir();
const args = [gyp, 'rebuild', ...(dir ? [`--nodedir=${dir}`] : [])];
const result = gyp
  ? spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
  : undefined;
if (result?.status === 0) process.exit(0);
const why =
  result === undefined
    ? 'node-gyp not found'
    : (result.stderr || '').trim().split('\n').filter(Boolean).slice(-3).join(' | ');
console.warn(
  `svcroute: native fast paths not built (${why || `exit ${result?.status}`}); using the JavaScript paths`,
);
process.exit(mode === 'required' ? 1 : 0);
