/** The env backend: keeps the service-link variables of each namespace current with snapshots. */
import type { RoutingSnapshot, SnapshotUpdate } from '../../core/snapshot';
import type { Backend } from '../backend';
import { type EnvRendering, renderServiceEnv, type ServiceVisibilityOptions } from './render';

/**
 * Renders, on demand, the variables a pod created *now* would get. It holds the latest snapshot
 * only: pods already running keep the variables of their creation (the snapshot rule), so use
 * `renderEnvForPod` with the pod's creation time or revision for those.
 */
export class EnvBackend implements Backend {
  readonly name = 'env';
  private current: RoutingSnapshot | undefined;

  sync(update: SnapshotUpdate): void {
    this.current = update.current;
  }

  /** Revision of the snapshot the next {@link render} uses (undefined before the first sync). */
  revision(): number | undefined {
    return this.current?.revision;
  }

  /** The variables a new pod in `options.namespace` would get from the latest snapshot. */
  render(options: ServiceVisibilityOptions): EnvRendering {
    return renderServiceEnv(this.current?.services.values() ?? [], options);
  }

  async close(): Promise<void> {
    this.current = undefined;
  }
}
