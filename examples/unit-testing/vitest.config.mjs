// vitest configuration of this example only (the project's own tests live under test/).
import { fileURLToPath } from 'node:url';

export default {
  // Keep vitest's cache with the repository's, not in a node_modules/ inside examples/.
  cacheDir: fileURLToPath(new URL('../../node_modules/.vite/examples-unit-testing', import.meta.url)),
  test: {
    root: fileURLToPath(new URL('.', import.meta.url)),
    include: ['*.test.mjs'],
  },
};
