import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/registry/memory-store';
import { storeConformance } from '../../src/testing/store-conformance';

storeConformance(
  'MemoryStore',
  async () => {
    const store = new MemoryStore();
    return { store, compact: (revision: number) => store.compact(revision), close: () => store.close() };
  },
  { describe, it, expect },
);
