/**
 * Kubernetes validation with the API server's field paths and messages: names and labels,
 * object metadata, Services (create and update), Pods and EndpointSlices.
 *
 * @module
 */

import type { ErrorList } from '../core/errors';
import { FieldPath } from '../core/errors';
import type { KubeObject } from '../core/types';
import { validateEndpoints } from './endpoints';
import { validateEndpointSlice } from './endpointslice';
import { nameIsDNSLabel, validateObjectMeta } from './names';
import { validateNode } from './node';
import { validatePod } from './pod';
import { validateService } from './service';

export * from './endpoints';
export * from './endpointslice';
export * from './names';
export * from './node';
export * from './pod';
export * from './service';
export * from './service-ip-families';
export * from './service-strategy';

/**
 * Validates any stored kind by dispatching on `kind` (defaults applied first, as the API server
 * does): Service, Pod, EndpointSlice, Endpoints fully; Node by metadata and pod CIDRs;
 * Namespace by metadata.
 */
export function validateObject(obj: KubeObject): ErrorList {
  const meta = FieldPath.root('metadata');
  switch (obj.kind) {
    case 'Service':
      return validateService(obj);
    case 'Pod':
      return validatePod(obj);
    case 'EndpointSlice':
      return validateEndpointSlice(obj);
    case 'Endpoints':
      return validateEndpoints(obj);
    case 'Node':
      return validateNode(obj);
    case 'Namespace':
      return validateObjectMeta(obj.metadata, { namespaced: false, nameValidator: nameIsDNSLabel }, meta);
  }
}
