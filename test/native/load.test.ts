import { afterEach, describe, expect, it, vi } from 'vitest';

// The loader caches its result per module instance: each case imports a fresh copy.
async function freshLoader() {
  vi.resetModules();
  return import('../../src/native/load');
}

describe('native add-on loader', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('is off when SVCROUTE_NATIVE=0, whatever is built', async () => {
    vi.stubEnv('SVCROUTE_NATIVE', '0');
    const { loadNative, nativeEnabled } = await freshLoader();
    expect(nativeEnabled()).toBe(false);
    expect(loadNative()).toBeUndefined();
  });

  it('reports why an add-on that exists could not be loaded, and falls back', async () => {
    vi.stubEnv('SVCROUTE_NATIVE', '');
    vi.stubEnv('SVCROUTE_NATIVE_ADDON', '/nonexistent/svcroute_native.node');
    const { loadNative, nativeLoadError } = await freshLoader();
    expect(loadNative()).toBeUndefined();
    expect(nativeLoadError()?.message).toMatch(/nonexistent\/svcroute_native\.node/);
  });

  it('loads the package build once and hands out the same parts object', async () => {
    const { loadNative } = await freshLoader();
    const first = loadNative();
    if (first === undefined) {
      if (process.env['CI']) throw new Error('CI must build the native add-on');
      console.warn('native add-on not built here (node scripts/build-native.mjs): skipping');
      return;
    }
    expect(loadNative()).toBe(first);
    expect(typeof first).toBe('object');
  });
});
