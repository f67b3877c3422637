import { defineConfig } from 'tsup';

/** One entry per public subpath; the CLI is built separately with a shebang. */
export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      testing: 'src/testing/index.ts',
      dns: 'src/backends/dns/index.ts',
      env: 'src/backends/env/index.ts',
      iptables: 'src/backends/iptables/index.ts',
      inprocess: 'src/backends/inprocess/index.ts',
      'inprocess/fetch': 'src/backends/inprocess/fetch.ts',
      etcd: 'src/stores/etcd/index.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    splitting: true,
    treeshake: true,
    // The CJS build needs `import.meta.url` (the native add-on is found relative to the module).
    shims: true,
  },
  {
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
