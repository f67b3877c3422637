/**
 * Finds svcroute's optional native add-on (built from `native/` at install time, Linux only) and
 * hands its parts to the backends that have a native fast path. Absent or disabled, every
 * backend runs its pure JavaScript path, which behaves the same.
 *
 * `SVCROUTE_NATIVE=0` in the environment disables the add-on for the whole process;
 * `SVCROUTE_NATIVE_ADDON=/path/to/svcroute_native.node` loads that build instead of the
 * package's own (a build made elsewhere, or one under test).
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where node-gyp puts the add-on, relative to the package root. */
const ADDON_PATH = join('build', 'Release', 'svcroute_native.node');
/** Directories between a module of the package and its root: `dist/` is 1, `src/native/` is 2. */
const MAX_LEVELS_UP = 3;

/** The add-on's exports: one object per fast path, each absent where the platform lacks it. */
export interface NativeAddon {
  readonly udp?: unknown;
  readonly tcp?: unknown;
}

let loaded: { addon: NativeAddon | undefined; error: Error | undefined } | undefined;

function locate(): string | undefined {
  const override = process.env['SVCROUTE_NATIVE_ADDON'];
  if (override) return override;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i <= MAX_LEVELS_UP; i++) {
    const candidate = join(dir, ADDON_PATH);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

/** True unless `SVCROUTE_NATIVE=0` turned the add-on off for this process. */
export function nativeEnabled(): boolean {
  return process.env['SVCROUTE_NATIVE'] !== '0';
}

/**
 * The add-on, loaded once; undefined when it was not built, failed to load (the reason is in
 * {@link nativeLoadError}) or is disabled by `SVCROUTE_NATIVE=0`.
 */
export function loadNative(): NativeAddon | undefined {
  if (!nativeEnabled()) return undefined;
  if (loaded === undefined) {
    const path = locate();
    if (path === undefined) loaded = { addon: undefined, error: undefined };
    else {
      try {
        const addon = createRequire(import.meta.url)(path) as NativeAddon;
        loaded = { addon, error: undefined };
      } catch (e) {
        loaded = { addon: undefined, error: e instanceof Error ? e : new Error(String(e)) };
      }
    }
  }
  return loaded.addon;
}

/** Why the add-on exists but could not be loaded; undefined when it loaded or was never built. */
export function nativeLoadError(): Error | undefined {
  loadNative();
  return loaded?.error;
}
