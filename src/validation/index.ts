/**
 * Kubernetes validation with the API server's field paths and messages: names and labels,
 * object metadata, Services (create and update), Pods and EndpointSlices.
 *
 * @module
 */

import type { ErrorList } from '../core/errors';
import { FieldPath } from '../core/errors';
import type { KubeObject } from '../core/types';
import { validateEndpointSlice } from './endpointslice';
import { nameIsDNSLabel, nameIsDNSSubdomain, validateObjectMeta } from './names';
import { validatePod } from './pod';
import { validateService } from './service';

export * from './endpointslice';
export * from './names';
export * from './pod';
export * from './service';
export * from './service-ip-families';
export * from './service-strategy';

/**
 * Validates any stored kind by dispatching on `kind` (defaults applied first, as the API server
 * does): Service, Pod, EndpointSlice fully; Endpoints, Node and Namespace by metadata.
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
      return validateObjectMeta(obj.metadata, { namespaced: true, nameValidator: nameIsDNSSubdomain }, meta);
    case 'Node':
      return validateObjectMeta(obj.metadata, { namespaced: false, nameValidator: nameIsDNSSubdomain }, meta);
    case 'Namespace':
      return validateObjectMeta(obj.metadata, { namespaced: false, nameValidator: nameIsDNSLabel }, meta);
  }
}
