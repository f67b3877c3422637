import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/registry';
import { storeConformance } from '../../src/testing/store-conformance';

storeConformance(
  'MemoryStore',
  async () => {
    const store = new MemoryStore();
    return { store, compact: (rev: number) => store.compact(rev), close: () => store.close() };
  },
  { describe, it, expect },
);
