/**
 * The whole environment kubelet gives one container of a pod (its `makeEnvironmentVariables`):
 * `envFrom` sources, then `env` with `$(VAR)` expansion and `valueFrom` resolution, then the
 * service variables the container does not define itself.
 */
import { isIP } from 'node:net';
import type { Container, EnvVar, Pod, Service } from '../../core/types';
import { expandEnv } from './expand';
import {
  type EnvRendering,
  renderServiceEnv,
  type ServiceEnvVar,
  type ServiceVisibilityOptions,
} from './render';

/** A ConfigMap as `envFrom` / `configMapKeyRef` read it (only `data`; `binaryData` is never used). */
export interface ConfigMapLike {
  readonly metadata: { readonly name?: string; readonly namespace?: string };
  readonly data?: Readonly<Record<string, string>>;
}

/**
 * A Secret as `envFrom` / `secretKeyRef` read it: `data` values are base64, as in manifests;
 * `stringData` (plain text) overrides them key by key, as the API server does on write.
 */
export interface SecretLike {
  readonly metadata: { readonly name?: string; readonly namespace?: string };
  readonly data?: Readonly<Record<string, string>>;
  readonly stringData?: Readonly<Record<string, string>>;
}

/** Inputs of {@link renderEnvForPod} besides the pod and the services. */
export interface PodEnvOptions {
  /**
   * When the container started: only services created at or before this instant are visible
   * (default: the pod's `creationTimestamp`, when set). kubelet computes the environment at each
   * container start, so a restarted container sees the services of its restart time.
   */
  readonly createdAt?: Date | string;
  /**
   * Only service objects whose `resourceVersion` is ≤ this revision are visible. Pass the
   * services as they were at that revision for an exact answer; with today's services, ones
   * modified since are left out because their values then are unknown.
   */
  readonly atRevision?: number;
  /** Which container: a name among `containers`, `initContainers` or `ephemeralContainers` (default: the first container). */
  readonly container?: string;
  /** Where the `kubernetes` service lives (default `default`). */
  readonly masterNamespace?: string;
  /**
   * The ConfigMaps of the pod's namespace (others are ignored). When given, lookups are
   * authoritative: a missing ConfigMap or key is skipped when the reference is `optional` and
   * throws {@link EnvResolutionError} otherwise, as kubelet refuses to start the container.
   * When absent, references render empty (`configMapKeyRef`) or add nothing (`envFrom`), with a warning.
   */
  readonly configMaps?: Iterable<ConfigMapLike>;
  /** The Secrets of the pod's namespace, with the same rules as {@link PodEnvOptions.configMaps}. */
  readonly secrets?: Iterable<SecretLike>;
}

/** kubelet would not start the container: a required ConfigMap, Secret or key is missing. */
export class EnvResolutionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvResolutionError';
  }
}

interface NamedSource {
  readonly name?: string;
  readonly optional?: boolean;
}
interface KeySelector extends NamedSource {
  readonly key?: string;
}
interface EnvFromSource {
  readonly prefix?: string;
  readonly configMapRef?: NamedSource;
  readonly secretRef?: NamedSource;
}
interface EnvVarSource {
  readonly fieldRef?: { readonly fieldPath?: string };
  readonly configMapKeyRef?: KeySelector;
  readonly secretKeyRef?: KeySelector;
}

type Kind = 'ConfigMap' | 'Secret';

/** Data of the pod namespace's ConfigMaps and Secrets; `undefined` when the caller gave none. */
interface Sources {
  readonly namespace: string;
  readonly ConfigMap: ReadonlyMap<string, Readonly<Record<string, string>>> | undefined;
  readonly Secret: ReadonlyMap<string, Readonly<Record<string, string>>> | undefined;
}

/**
 * The environment kubelet gives a container of `pod`: the container's own variables (`envFrom`
 * sources in order, then `env` in declared order, later definitions of a name replacing earlier
 * values) followed by the service variables it does not define itself. `env` values may
 * reference earlier variables and service variables with `$(VAR)`.
 *
 * The snapshot rule applies: variables are computed when the container starts, from the
 * services that exist then (see {@link PodEnvOptions.createdAt}).
 *
 * @throws EnvResolutionError when a required ConfigMap/Secret or key is missing from the
 *   `configMaps` / `secrets` given.
 * @throws Error when `options.container` names no container of the pod.
 */
export function renderEnvForPod(
  pod: Pod,
  services: Iterable<Service>,
  options: PodEnvOptions = {},
): EnvRendering {
  const namespace = pod.metadata.namespace ?? 'default';
  const eligible = servicesAtStart(services, options, pod);
  const visibility: ServiceVisibilityOptions = {
    namespace,
    enableServiceLinks: pod.spec.enableServiceLinks ?? true,
    ...(options.masterNamespace ? { masterNamespace: options.masterNamespace } : {}),
  };
  const serviceRendering = renderServiceEnv(eligible, visibility);
  const serviceEnv = new Map(serviceRendering.vars.map((v) => [v.name, v.value]));
  const container = findContainer(pod, options.container);
  const warnings = [...serviceRendering.warnings];
  const sources: Sources = {
    namespace,
    ConfigMap: indexSources(options.configMaps, namespace, (c) => c.data ?? {}),
    Secret: indexSources(options.secrets, namespace, secretData),
  };

  const own = new Map<string, string>();
  const envFrom = (container as { envFrom?: EnvFromSource[] } | undefined)?.envFrom ?? [];
  for (const from of envFrom) {
    const kind: Kind | undefined = from.configMapRef ? 'ConfigMap' : from.secretRef ? 'Secret' : undefined;
    const ref = from.configMapRef ?? from.secretRef;
    if (kind === undefined || ref === undefined) continue;
    const data = lookupSource(sources, kind, ref, warnings, 'envFrom');
    if (data === undefined) continue;
    for (const [key, value] of Object.entries(data)) own.set(`${from.prefix ?? ''}${key}`, value);
  }
  for (const e of container?.env ?? []) {
    const value = resolveEnvValue(e, own, serviceEnv, pod, sources, warnings);
    if (value !== undefined) own.set(e.name, value);
  }

  const vars: ServiceEnvVar[] = [...own].map(([name, value]) => ({ name, value }));
  for (const v of serviceRendering.vars) if (!own.has(v.name)) vars.push(v);
  return { vars, serviceCount: serviceRendering.serviceCount, warnings };
}

function servicesAtStart(services: Iterable<Service>, options: PodEnvOptions, pod: Pod): Service[] {
  const createdAt = toTime(options.createdAt ?? pod.metadata.creationTimestamp);
  const atRevision = options.atRevision;
  return [...services].filter((svc) => {
    if (createdAt !== undefined) {
      const t = toTime(svc.metadata.creationTimestamp);
      if (t !== undefined && t > createdAt) return false;
    }
    if (atRevision !== undefined) {
      const rv = Number(svc.metadata.resourceVersion);
      if (Number.isFinite(rv) && rv > atRevision) return false;
    }
    return true;
  });
}

function findContainer(pod: Pod, name: string | undefined): Container | undefined {
  const containers = pod.spec.containers ?? [];
  if (name === undefined) return containers[0];
  const ephemeral = (pod.spec as { ephemeralContainers?: Container[] }).ephemeralContainers ?? [];
  const all = [...containers, ...(pod.spec.initContainers ?? []), ...ephemeral];
  const found = all.find((c) => c.name === name);
  if (!found) throw new Error(`pod has no container named ${JSON.stringify(name)}`);
  return found;
}

function indexSources<T extends ConfigMapLike | SecretLike>(
  objects: Iterable<T> | undefined,
  namespace: string,
  dataOf: (o: T) => Readonly<Record<string, string>>,
): Map<string, Readonly<Record<string, string>>> | undefined {
  if (objects === undefined) return undefined;
  const out = new Map<string, Readonly<Record<string, string>>>();
  for (const o of objects) {
    if ((o.metadata.namespace ?? namespace) !== namespace || !o.metadata.name) continue;
    out.set(o.metadata.name, dataOf(o));
  }
  return out;
}

function secretData(s: SecretLike): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries(s.stringData ?? {})) out[k] = v;
  return out;
}

/** The data of a referenced ConfigMap/Secret; undefined when it is to be skipped. */
function lookupSource(
  sources: Sources,
  kind: Kind,
  ref: NamedSource,
  warnings: string[],
  context: string,
): Readonly<Record<string, string>> | undefined {
  const name = ref.name ?? '';
  const index = sources[kind];
  if (index === undefined) {
    warnings.push(`${context}: ${kind} ${JSON.stringify(name)} was not provided; its values are left out`);
    return undefined;
  }
  const data = index.get(name);
  if (data !== undefined) return data;
  if (ref.optional === true) return undefined;
  throw new EnvResolutionError(`${kind.toLowerCase()} ${JSON.stringify(name)} not found`);
}

/** The value of one `env` entry, or undefined when kubelet leaves the variable out. */
function resolveEnvValue(
  e: EnvVar,
  own: ReadonlyMap<string, string>,
  serviceEnv: ReadonlyMap<string, string>,
  pod: Pod,
  sources: Sources,
  warnings: string[],
): string | undefined {
  if (e.value) return expandEnv(e.value, (name) => own.get(name) ?? serviceEnv.get(name));
  if (e.valueFrom === undefined || e.valueFrom === null) return '';
  const from = e.valueFrom as EnvVarSource;
  if (from.fieldRef) {
    const value = podFieldValue(pod, from.fieldRef.fieldPath ?? '');
    if (value !== undefined) return value;
    warnings.push(
      `${e.name}: fieldRef ${JSON.stringify(from.fieldRef.fieldPath)} is not supported; rendered empty`,
    );
    return '';
  }
  const kind: Kind | undefined = from.configMapKeyRef
    ? 'ConfigMap'
    : from.secretKeyRef
      ? 'Secret'
      : undefined;
  const ref = from.configMapKeyRef ?? from.secretKeyRef;
  if (kind !== undefined && ref !== undefined) {
    if (sources[kind] === undefined) {
      warnings.push(`${e.name}: ${kind} ${JSON.stringify(ref.name ?? '')} was not provided; rendered empty`);
      return '';
    }
    const data = lookupSource(sources, kind, ref, warnings, e.name);
    if (data === undefined) return undefined;
    const key = ref.key ?? '';
    if (Object.hasOwn(data, key)) return data[key];
    if (ref.optional === true) return undefined;
    throw new EnvResolutionError(
      `couldn't find key ${key} in ${kind} ${sources.namespace}/${ref.name ?? ''}`,
    );
  }
  warnings.push(`${e.name}: valueFrom cannot be resolved offline; rendered empty`);
  return '';
}

/** `metadata.labels['key']` / `metadata.annotations['key']`: the downward API's subscript form. */
const SUBSCRIPTED_FIELD = /^metadata\.(labels|annotations)\['(.*)'\]$/;

/**
 * The value of a `fieldRef` the way kubelet resolves it for an env var (its
 * `podFieldSelectorRuntimeValue`, then `fieldpath.ExtractFieldPathAsString`); undefined for a
 * path kubelet would reject. A missing label or annotation key is the empty string, as in kubelet.
 */
function podFieldValue(pod: Pod, fieldPath: string): string | undefined {
  const subscript = SUBSCRIPTED_FIELD.exec(fieldPath);
  if (subscript) {
    const map = subscript[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations;
    const key = subscript[2] ?? '';
    return map && Object.hasOwn(map, key) ? (map[key] ?? '') : '';
  }
  // Fields the shared Pod type does not declare but real manifests carry.
  const spec = pod.spec as { serviceAccountName?: string };
  const hostIPs = pod.status?.hostIPs?.map((p) => p.ip) ?? (pod.status?.hostIP ? [pod.status.hostIP] : []);
  const podIPs = sortPodIPs(
    pod.status?.podIPs?.map((p) => p.ip) ?? (pod.status?.podIP ? [pod.status.podIP] : []),
    hostIPs[0],
  );
  const known: Record<string, string | undefined> = {
    'metadata.name': pod.metadata.name,
    'metadata.namespace': pod.metadata.namespace,
    'metadata.uid': pod.metadata.uid,
    'spec.nodeName': pod.spec.nodeName,
    'spec.serviceAccountName': spec.serviceAccountName,
    'status.podIP': podIPs[0] ?? pod.status?.podIP,
    'status.podIPs': podIPs.join(','),
    'status.hostIP': hostIPs[0],
    'status.hostIPs': hostIPs.join(','),
  };
  return Object.hasOwn(known, fieldPath) ? (known[fieldPath] ?? '') : undefined;
}

/**
 * kubelet's `sortPodIPs`: at most one address per family, the node's primary family first (IPv4
 * when the node's address is unknown), so `status.podIP` is of the node's family. Strings that
 * are not IP addresses are dropped.
 */
export function sortPodIPs(podIPs: readonly string[], nodeIP: string | undefined): string[] {
  const primary = nodeIP !== undefined && isIP(nodeIP) === 6 ? 6 : 4;
  const secondary = primary === 4 ? 6 : 4;
  const out: string[] = [];
  const first = podIPs.find((ip) => isIP(ip) === primary);
  if (first !== undefined) out.push(first);
  const second = podIPs.find((ip) => isIP(ip) === secondary);
  if (second !== undefined) out.push(second);
  return out;
}

function toTime(t: Date | string | undefined): number | undefined {
  if (t === undefined) return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}
