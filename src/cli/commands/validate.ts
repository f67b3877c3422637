/**
 * `svcroute validate -f FILE...`: what the API server would say to each object on create, in
 * kubectl's words, without keeping anything.
 */

import type { Command } from 'commander';
import { defaultEndpointSlice, defaultService } from '../../core/defaults';
import { type ErrorList, invalidError, isStatusError, type StatusError } from '../../core/errors';
import type { IPFamily, KubeObject } from '../../core/types';
import type { ManifestItem, ManifestLocation } from '../../manifest';
import { CLUSTER_SCOPED_KINDS } from '../../manifest/kinds';
import { cidrFamily } from '../../net/cidr';
import { DEFAULT_SERVICE_CLUSTER_IP_RANGES, Registry } from '../../registry';
import { type AllocationMode, ipFamilyStageErrors } from '../../registry/service-allocation';
import { prepareServiceCreate, validateObject } from '../../validation';
import { readManifestInput, sortForCreation } from '../load';
import {
  addFilenameOptions,
  addServiceRangeOptions,
  cliContext,
  EXIT_INVALID,
  type FilenameFlags,
  registryOptionsFromFlags,
  type ServiceRangeFlags,
} from '../shared';

const RESOURCE: Record<KubeObject['kind'], string> = {
  Service: 'service',
  Pod: 'pod',
  EndpointSlice: 'endpointslice.discovery.k8s.io',
  Endpoints: 'endpoints',
  Node: 'node',
  Namespace: 'namespace',
};

function withDefaultNamespace<T extends KubeObject>(o: T): T {
  if (CLUSTER_SCOPED_KINDS.has(o.kind) || o.metadata.namespace) return o;
  return { ...o, metadata: { ...o.metadata, namespace: 'default' } };
}

/**
 * The errors the API server would answer a create of `object` with. Its create path allocates
 * before it validates (the Service REST layer's begin-create hook runs ahead of the strategy's
 * validation), and that step refuses inconsistent IP family fields on its own: such a Service
 * is reported with those errors only, not with the full validation list.
 */
function createErrors(
  object: KubeObject,
  clusterFamilies: readonly IPFamily[],
  mode: AllocationMode,
): ErrorList {
  const errors = validateObject(object);
  if (errors.length === 0 || object.kind !== 'Service') return errors;
  const early = ipFamilyStageErrors(prepareServiceCreate(defaultService(object)), clusterFamilies, mode);
  return early.length > 0 ? early : errors;
}

/** Where an object came from, for kubectl's wording: `svc.yaml` or `svc.yaml (document 2)`. */
function describeLocation(location: ManifestLocation): string {
  const inList = location.itemPath !== undefined ? location.itemPath : '';
  if (location.documentIndex !== undefined && location.documentIndex > 0)
    return `${location.source} (document ${location.documentIndex}${inList ? `, ${inList}` : ''})`;
  return inList ? `${location.source} (${inList})` : location.source;
}

/**
 * What `validate` says about an object the API server would refuse on create, in kubectl's
 * words (validate's documented format): an Invalid error as its own `The Service "web" is
 * invalid: …` text, anything else as
 * `Error from server (AlreadyExists): error when creating "svc.yaml": …`.
 */
function describeCreateError(e: StatusError, item: ManifestItem): string {
  if (e.reason === 'Invalid') return e.message;
  return `Error from server (${e.reason}): error when creating ${JSON.stringify(describeLocation(item.location))}: ${e.message}`;
}

/** Registers `validate`. */
export function registerValidateCommand(program: Command): void {
  const cmd = program
    .command('validate')
    .description('check manifests as the API server would on create; print kubectl-style errors')
    .addHelpText(
      'after',
      `
Every object is defaulted and validated with Kubernetes' rules; objects that pass are then
checked for address and port conflicts, as creating them all would; --service-cluster-ip-range
also checks cluster IPs against it, --service-node-port-range node ports. A missing namespace means "default".

Output:
  stdout: one "<resource>/<name> valid" line per valid object
  stderr: per invalid object, 'The Service "web" is invalid: ' then one
          "* FIELD: TYPE: DETAIL" line per error; manifest problems as
          "error: FILE: document N (line L): ..."

Exit status: 0 all valid, 1 something invalid or unreadable, 2 usage error.

Examples:
  svcroute validate -f service.yaml
  svcroute validate -f manifests/ -R
  kubectl get svc -A -o yaml | svcroute validate -f -`,
    );
  addFilenameOptions(cmd, 'manifests to validate');
  addServiceRangeOptions(cmd);
  cmd.action(async (flags: FilenameFlags & ServiceRangeFlags, command: Command) => {
    const ctx = cliContext(command);
    const registryOptions = registryOptionsFromFlags(flags);
    // Endpoints are validated as what they are, not as the slices they would be mirrored to.
    const result = await readManifestInput(ctx, flags, 'keep');
    for (const e of result.errors) {
      ctx.err(`error: ${e.message}`);
      ctx.fail(EXIT_INVALID);
    }
    const clusterFamilies = (registryOptions.serviceClusterIPRanges ?? DEFAULT_SERVICE_CLUSTER_IP_RANGES)
      .map(cidrFamily)
      .filter((f): f is IPFamily => f !== undefined);
    const registry = new Registry({ ...registryOptions, runControllers: false });
    try {
      await registry.ready();
      const passed: { item: ManifestItem; object: KubeObject }[] = [];
      for (const item of result.items) {
        let object = withDefaultNamespace(item.object);
        if (object.kind === 'EndpointSlice') object = defaultEndpointSlice(object);
        const errors = createErrors(object, clusterFamilies, registryOptions.allocationMode ?? 'strict');
        if (errors.length > 0) {
          ctx.err(invalidError(object.kind, object.metadata.name ?? '', errors).message);
          ctx.fail(EXIT_INVALID);
        } else {
          passed.push({ item, object });
        }
      }
      // Allocation second, in creation order, so that conflicts are judged as applying all would.
      const rejected = new Set<KubeObject>();
      for (const { item, object } of sortForCreation(passed)) {
        try {
          await registry.apply(object);
        } catch (e) {
          if (!isStatusError(e)) throw e;
          ctx.err(describeCreateError(e, item));
          ctx.fail(EXIT_INVALID);
          rejected.add(object);
        }
      }
      for (const { object } of passed)
        if (!rejected.has(object)) ctx.out(`${RESOURCE[object.kind]}/${object.metadata.name ?? ''} valid`);
    } finally {
      await registry.close();
    }
  });
}
