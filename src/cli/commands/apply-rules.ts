/**
 * `svcroute apply-rules`: installs kube-proxy's iptables rules for the given manifests on this
 * machine (`iptables-restore --noflush`), once or following file changes; `--cleanup` removes
 * them.
 *
 * @module
 */
import { watch } from 'node:fs';
import type { Command } from 'commander';
import { IptablesBackend } from '../../backends/iptables/backend';
import {
  addIptablesOptions,
  type IptablesCliOptions,
  iptablesOptionsFrom,
  snapshotFromFiles,
} from './render-iptables';

interface ApplyRulesOptions extends IptablesCliOptions {
  readonly cleanup?: boolean;
  readonly watch?: boolean;
}

/** Debounce of file-change events before reloading (editors write in bursts). */
const WATCH_DEBOUNCE_MS = 200;

/** Registers `apply-rules`. */
export function registerApplyRulesCommand(program: Command): void {
  addIptablesOptions(
    program.command('apply-rules').description("apply kube-proxy's iptables rules for the objects"),
  )
    .option('--cleanup', 'remove every rule and chain the rules use instead of applying')
    .option('--watch', 'keep running and re-apply when the files change')
    .action(async (opts: ApplyRulesOptions) => {
      const backend = new IptablesBackend({ ...iptablesOptionsFrom(opts), minSyncIntervalMs: 0 });
      backend.on('synced', (e) =>
        process.stderr.write(
          `applied ${e.full ? 'full' : 'partial'} sync: ${e.rules.stats.servicePorts} service ports, ` +
            `${e.rules.stats.natRules + e.rules.stats.filterRules} rules in ${e.durationMs.toFixed(0)} ms\n`,
        ),
      );
      if (opts.cleanup) {
        await backend.cleanup();
        await backend.close();
        process.stderr.write('removed the iptables rules\n');
        return;
      }
      const apply = async (): Promise<void> => {
        const current = await snapshotFromFiles(opts.filename);
        await backend.sync({ previous: undefined, current, changes: [], changedServices: new Set() });
      };
      await apply();
      if (!opts.watch) {
        await backend.close();
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const watchers = opts.filename
        .filter((f) => f !== '-')
        .map((f) =>
          watch(f, () => {
            clearTimeout(timer);
            timer = setTimeout(() => {
              apply().catch((err: unknown) =>
                process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`),
              );
            }, WATCH_DEBOUNCE_MS);
          }),
        );
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          for (const w of watchers) w.close();
          clearTimeout(timer);
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await backend.close();
    });
}
