/**
 * Service links: the `{SVC}_SERVICE_HOST` / `{SVC}_PORT…` variables kubelet injects into every
 * container, rendered exactly as kubelet does, and parsed back from `process.env`.
 *
 * @module
 */
export { EnvBackend } from './backend';
export {
  type DiscoveredPort,
  type DiscoveredService,
  DiscoveredServices,
  discoverFromEnv,
  EnvDiscoveryError,
} from './discover';
export { expandEnv } from './expand';
export {
  type ConfigMapLike,
  EnvResolutionError,
  type PodEnvOptions,
  renderEnvForPod,
  type SecretLike,
  sortPodIPs,
} from './pod-env';
export {
  DEFAULT_MASTER_NAMESPACE,
  ENV_BYTES_WARNING_THRESHOLD,
  ENV_SERVICE_WARNING_THRESHOLD,
  type EnvRendering,
  envVarName,
  formatEnv,
  fromServices,
  isServiceIPSet,
  joinHostPort,
  MASTER_SERVICES,
  renderServiceEnv,
  type ServiceEnvVar,
  type ServiceVisibilityOptions,
  serviceEnvVars,
  visibleServices,
} from './render';
