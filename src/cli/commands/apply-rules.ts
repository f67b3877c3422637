/**
 * `svcroute apply-rules`: installs kube-proxy's iptables rules for the given manifests on this
 * machine (`iptables-restore --noflush`), once or following file changes; `--cleanup` removes
 * them.
 *
 * @module
 */
import type { Command } from 'commander';
import { IptablesBackend } from '../../backends/iptables/backend';
import type { RoutingSnapshot } from '../../core/snapshot';
import { CliError, cliContext } from '../context';
import { loadState } from '../load';
import { watchPaths } from '../reload';
import { filenamePaths } from '../shared';
import { addIptablesOptions, type IptablesCliOptions, iptablesOptionsFrom } from './render-iptables';

interface ApplyRulesOptions extends IptablesCliOptions {
  readonly cleanup?: boolean;
  readonly watch?: boolean;
}

/** Registers `apply-rules`. */
export function registerApplyRulesCommand(program: Command): void {
  addIptablesOptions(
    program.command('apply-rules').description("apply kube-proxy's iptables rules for the objects"),
  )
    .option('--cleanup', 'remove every rule and chain the rules use instead of applying')
    .option('--watch', 'keep running and re-apply when the files change')
    .addHelpText(
      'after',
      `
Needs root and iptables-restore. Each apply is a full sync of the rules the manifests give.
With --watch, a change to the files is applied again; a bad edit is reported one line per
problem and the rules in place are kept. Stops on SIGINT/SIGTERM.

Exit status: 0 applied (or stopped by a signal), 1 the manifests did not load or
iptables-restore failed, 2 usage error.

Examples:
  svcroute apply-rules -f manifests/ --node-name node-a --node-ip 192.168.0.2
  svcroute apply-rules -f manifests/ --cleanup`,
    )
    .action(async (opts: ApplyRulesOptions, command: Command) => {
      const ctx = cliContext(command);
      // Manifests are loaded before anything touches the machine: a bad file changes no rule.
      const first = opts.cleanup ? undefined : await loadState(ctx, opts);
      const backend = new IptablesBackend({ ...iptablesOptionsFrom(opts), minSyncIntervalMs: 0 });
      backend.on('synced', (e) =>
        ctx.err(
          `applied ${e.full ? 'full' : 'partial'} sync: ${e.rules.stats.servicePorts} service ports, ` +
            `${e.rules.stats.natRules + e.rules.stats.filterRules} rules in ${e.durationMs.toFixed(0)} ms`,
        ),
      );
      const sync = (current: RoutingSnapshot) =>
        backend.sync({ previous: undefined, current, changes: [], changedServices: new Set() });
      try {
        if (first === undefined) {
          await backend.cleanup();
          ctx.err('removed the iptables rules');
          return;
        }
        await sync(first.snapshot);
        if (!opts.watch) return;
        let applying = Promise.resolve();
        const watcher = watchPaths(filenamePaths(opts.filename), opts.recursive ?? false, () => {
          applying = applying.then(async () => {
            try {
              await sync((await loadState(ctx, opts)).snapshot);
            } catch (err) {
              // Manifest problems were printed one line each; anything else gets its line here.
              if (!(err instanceof CliError && err.reported))
                ctx.err(`error: ${err instanceof Error ? err.message : String(err)}`);
              ctx.err('reload failed: keeping the rules in place');
            }
          });
        });
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            resolve();
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
        watcher.close();
        await applying;
      } finally {
        await backend.close();
      }
    });
}
