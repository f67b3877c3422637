/**
 * The JSON shape of every served kind, as far as svcroute reads it: enough to reject a value of
 * the wrong JSON type the way the API server's decoder does (a port given as a string, labels
 * given as a list). Fields not listed here are carried through untouched, so `kubectl get -o
 * yaml` dumps (managedFields, container status, volumes…) load and print back unchanged.
 */

/** The JSON type a field must have. */
export type FieldSchema =
  | { readonly type: 'string' }
  /** Go `int32`: ports, counts. */
  | { readonly type: 'int32' }
  /** Go `int64`: generation, grace periods. */
  | { readonly type: 'int64' }
  | { readonly type: 'boolean' }
  /** `intstr.IntOrString`: `targetPort`. */
  | { readonly type: 'intOrString' }
  /** `metav1.Time`: an RFC 3339 string. */
  | { readonly type: 'time' }
  /** Anything; copied as is. */
  | { readonly type: 'any' }
  /** `map[string]T`. */
  | { readonly type: 'map'; readonly of: FieldSchema }
  /** `[]T`. */
  | { readonly type: 'array'; readonly of: FieldSchema }
  /** A struct: listed fields are checked, others carried through. */
  | { readonly type: 'object'; readonly fields: Readonly<Record<string, FieldSchema>> };

const str: FieldSchema = { type: 'string' };
const int32: FieldSchema = { type: 'int32' };
const int64: FieldSchema = { type: 'int64' };
const bool: FieldSchema = { type: 'boolean' };
const time: FieldSchema = { type: 'time' };
const any: FieldSchema = { type: 'any' };
const intOrString: FieldSchema = { type: 'intOrString' };
const obj = (fields: Record<string, FieldSchema>): FieldSchema => ({ type: 'object', fields });
const arr = (of: FieldSchema): FieldSchema => ({ type: 'array', of });
const map = (of: FieldSchema): FieldSchema => ({ type: 'map', of });
const strings = arr(str);
const stringMap = map(str);

const objectReference = obj({
  kind: str,
  namespace: str,
  name: str,
  uid: str,
  apiVersion: str,
  resourceVersion: str,
  fieldPath: str,
});

const objectMeta = obj({
  name: str,
  generateName: str,
  namespace: str,
  selfLink: str,
  uid: str,
  resourceVersion: str,
  generation: int64,
  creationTimestamp: time,
  deletionTimestamp: time,
  deletionGracePeriodSeconds: int64,
  labels: stringMap,
  annotations: stringMap,
  ownerReferences: arr(
    obj({ apiVersion: str, kind: str, name: str, uid: str, controller: bool, blockOwnerDeletion: bool }),
  ),
  finalizers: strings,
  managedFields: arr(any),
});

const protocolField = str;

const serviceSpec = obj({
  type: str,
  selector: stringMap,
  ports: arr(
    obj({
      name: str,
      protocol: protocolField,
      appProtocol: str,
      port: int32,
      targetPort: intOrString,
      nodePort: int32,
    }),
  ),
  clusterIP: str,
  clusterIPs: strings,
  ipFamilies: strings,
  ipFamilyPolicy: str,
  externalIPs: strings,
  externalName: str,
  sessionAffinity: str,
  sessionAffinityConfig: obj({ clientIP: obj({ timeoutSeconds: int32 }) }),
  externalTrafficPolicy: str,
  internalTrafficPolicy: str,
  trafficDistribution: str,
  loadBalancerIP: str,
  loadBalancerSourceRanges: strings,
  loadBalancerClass: str,
  healthCheckNodePort: int32,
  publishNotReadyAddresses: bool,
  allocateLoadBalancerNodePorts: bool,
});

const serviceStatus = obj({
  loadBalancer: obj({
    ingress: arr(
      obj({
        ip: str,
        hostname: str,
        ipMode: str,
        ports: arr(obj({ port: int32, protocol: protocolField, error: str })),
      }),
    ),
  }),
  conditions: arr(any),
});

const container = obj({
  name: str,
  image: str,
  ports: arr(obj({ name: str, containerPort: int32, hostPort: int32, hostIP: str, protocol: protocolField })),
  env: arr(obj({ name: str, value: str, valueFrom: any })),
});

const podSpec = obj({
  containers: arr(container),
  initContainers: arr(container),
  nodeName: str,
  hostname: str,
  subdomain: str,
  hostNetwork: bool,
  enableServiceLinks: bool,
  setHostnameAsFQDN: bool,
  terminationGracePeriodSeconds: int64,
});

const podIPs = arr(obj({ ip: str }));

const podStatus = obj({
  phase: str,
  podIP: str,
  podIPs,
  hostIP: str,
  hostIPs: podIPs,
  conditions: arr(
    obj({ type: str, status: str, lastTransitionTime: time, lastProbeTime: time, reason: str, message: str }),
  ),
});

const nodeSpec = obj({ podCIDR: str, podCIDRs: strings, unschedulable: bool, providerID: str });
const nodeStatus = obj({
  addresses: arr(obj({ type: str, address: str })),
  conditions: arr(obj({ type: str, status: str })),
});

const endpointSliceEndpoint = obj({
  addresses: strings,
  conditions: obj({ ready: bool, serving: bool, terminating: bool }),
  hostname: str,
  targetRef: objectReference,
  nodeName: str,
  zone: str,
  hints: obj({ forZones: arr(obj({ name: str })), forNodes: arr(obj({ name: str })) }),
});

const endpointsAddress = obj({ ip: str, hostname: str, nodeName: str, targetRef: objectReference });

/** Top-level fields of each kind, beside `apiVersion` and `kind`. */
export const KIND_SCHEMAS: Readonly<Record<string, Readonly<Record<string, FieldSchema>>>> = {
  Service: { metadata: objectMeta, spec: serviceSpec, status: serviceStatus },
  Pod: { metadata: objectMeta, spec: podSpec, status: podStatus },
  Node: { metadata: objectMeta, spec: nodeSpec, status: nodeStatus },
  Namespace: { metadata: objectMeta, spec: obj({ finalizers: strings }), status: obj({ phase: str }) },
  EndpointSlice: {
    metadata: objectMeta,
    addressType: str,
    endpoints: arr(endpointSliceEndpoint),
    ports: arr(obj({ name: str, protocol: protocolField, port: int32, appProtocol: str })),
  },
  Endpoints: {
    metadata: objectMeta,
    subsets: arr(
      obj({
        addresses: arr(endpointsAddress),
        notReadyAddresses: arr(endpointsAddress),
        ports: arr(obj({ name: str, port: int32, protocol: protocolField, appProtocol: str })),
      }),
    ),
  },
};

/** Fields of a List envelope (the items are decoded one by one against their own kind). */
export const LIST_METADATA_SCHEMA: FieldSchema = obj({
  resourceVersion: str,
  continue: str,
  remainingItemCount: int64,
  selfLink: str,
});
