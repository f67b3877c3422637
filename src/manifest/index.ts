/**
 * Reading Kubernetes manifests: YAML (multi-document), JSON, `List` and typed lists such as
 * `ServiceList`, with the API server's structural checks and one-line errors that name the file,
 * the document and the field. Legacy v1 Endpoints become EndpointSlices as the mirroring
 * controller makes them.
 *
 * @module
 */

export { isManifestError, ManifestError, type ManifestErrorDetails, type ManifestLocation } from './errors';
export {
  expandManifestPaths,
  loadManifestFiles,
  MANIFEST_EXTENSIONS,
  type ManifestFileOptions,
  readManifestFiles,
  STDIN_PATH,
  STDIN_SOURCE,
} from './files';
export { isServedKind, SERVED_KINDS } from './kinds';
export {
  ANNOTATION_LEADER_ELECTION,
  ENDPOINTSLICE_MIRRORING_CONTROLLER_NAME,
  endpointsToSlices,
  LABEL_SKIP_MIRROR,
  MIRRORING_MAX_ENDPOINTS_PER_SUBSET,
  mirrorEndpoints,
  shouldMirror,
} from './mirror';
export {
  type ManifestItem,
  type ManifestOptions,
  type ManifestReadResult,
  mirrorItems,
  parseManifests,
  readManifests,
} from './parse';
