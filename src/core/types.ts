/**
 * Kubernetes object shapes as the API server serves them (`kubectl get -o yaml`), limited to the
 * fields that matter for service routing. Field names and optionality follow the v1 / discovery/v1
 * JSON schema so that real manifests load without translation.
 *
 * @module
 */

/** Labels or annotations: string keys to string values. Always built with a null prototype. */
export type StringMap = Record<string, string>;

/** Transport protocols a Service port or EndpointSlice port may use. */
export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** The four Service types. */
export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';

/** IP families of a Service, Pod or EndpointSlice. */
export type IPFamily = 'IPv4' | 'IPv6';

/** `spec.ipFamilyPolicy` values. */
export type IPFamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';

/** `spec.externalTrafficPolicy` and `spec.internalTrafficPolicy` values. */
export type TrafficPolicy = 'Cluster' | 'Local';

/** `spec.sessionAffinity` values. */
export type SessionAffinity = 'None' | 'ClientIP';

/** Reference to another object (EndpointSlice `targetRef`). */
export interface ObjectReference {
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiVersion?: string;
  resourceVersion?: string;
}

/** Owner reference; the endpoints controller marks the slices it manages with one. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** `metadata` of every object. Timestamps are RFC 3339 strings, as in the API. */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: StringMap;
  annotations?: StringMap;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
}

/** Common envelope of every object. */
export interface TypeMeta {
  apiVersion: string;
  kind: string;
}

// ---------------------------------------------------------------------------------------------
// Service (core/v1)

/** One entry of `spec.ports`. `targetPort` may be a number or the name of a container port. */
export interface ServicePort {
  name?: string;
  protocol?: Protocol;
  appProtocol?: string;
  port: number;
  targetPort?: number | string;
  nodePort?: number;
}

/** `spec.sessionAffinityConfig`. */
export interface SessionAffinityConfig {
  clientIP?: { timeoutSeconds?: number };
}

/** `spec` of a Service. */
export interface ServiceSpec {
  type?: ServiceType;
  selector?: StringMap;
  ports?: ServicePort[];
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: IPFamily[];
  ipFamilyPolicy?: IPFamilyPolicy;
  externalIPs?: string[];
  externalName?: string;
  sessionAffinity?: SessionAffinity;
  sessionAffinityConfig?: SessionAffinityConfig;
  externalTrafficPolicy?: TrafficPolicy;
  internalTrafficPolicy?: TrafficPolicy;
  /** `PreferClose` (alias of `PreferSameZone`), `PreferSameZone`, `PreferSameNode`. */
  trafficDistribution?: string;
  loadBalancerIP?: string;
  loadBalancerSourceRanges?: string[];
  loadBalancerClass?: string;
  healthCheckNodePort?: number;
  publishNotReadyAddresses?: boolean;
  allocateLoadBalancerNodePorts?: boolean;
}

/** One `status.loadBalancer.ingress` entry. */
export interface LoadBalancerIngress {
  ip?: string;
  hostname?: string;
  ipMode?: 'VIP' | 'Proxy';
  ports?: { port: number; protocol: Protocol; error?: string }[];
}

/** `status` of a Service. */
export interface ServiceStatus {
  loadBalancer?: { ingress?: LoadBalancerIngress[] };
}

/** A v1 Service. */
export interface Service extends TypeMeta {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: ObjectMeta;
  spec: ServiceSpec;
  status?: ServiceStatus;
}

// ---------------------------------------------------------------------------------------------
// Pod (core/v1)

/** A container port; `name` is what a Service `targetPort` string refers to. */
export interface ContainerPort {
  name?: string;
  containerPort: number;
  hostPort?: number;
  hostIP?: string;
  protocol?: Protocol;
}

/** An environment variable defined on a container (wins over service link variables). */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

/** A container, reduced to what routing and env rendering read. */
export interface Container {
  name: string;
  image?: string;
  ports?: ContainerPort[];
  env?: EnvVar[];
}

/** `spec` of a Pod. */
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  nodeName?: string;
  hostname?: string;
  subdomain?: string;
  hostNetwork?: boolean;
  enableServiceLinks?: boolean;
  setHostnameAsFQDN?: boolean;
  terminationGracePeriodSeconds?: number;
}

/** A Pod condition; `Ready` is the one routing reads. */
export interface PodCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

/** `status` of a Pod. */
export interface PodStatus {
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  podIP?: string;
  podIPs?: { ip: string }[];
  hostIP?: string;
  hostIPs?: { ip: string }[];
  conditions?: PodCondition[];
}

/** A v1 Pod. */
export interface Pod extends TypeMeta {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: ObjectMeta;
  spec: PodSpec;
  status?: PodStatus;
}

// ---------------------------------------------------------------------------------------------
// Node and Namespace (core/v1)

/** A v1 Node: its name, addresses, zone label and pod CIDR(s). */
export interface Node extends TypeMeta {
  apiVersion: 'v1';
  kind: 'Node';
  metadata: ObjectMeta;
  spec?: { podCIDR?: string; podCIDRs?: string[]; unschedulable?: boolean };
  status?: {
    addresses?: { type: string; address: string }[];
    conditions?: { type: string; status: string }[];
    /** Resource quantities (`cpu: "3800m"`, `memory: …`); the topology cache reads `cpu`. */
    allocatable?: Record<string, string | number>;
    capacity?: Record<string, string | number>;
  };
}

/** A v1 Namespace. */
export interface Namespace extends TypeMeta {
  apiVersion: 'v1';
  kind: 'Namespace';
  metadata: ObjectMeta;
  spec?: { finalizers?: string[] };
  status?: { phase?: string };
}

// ---------------------------------------------------------------------------------------------
// EndpointSlice (discovery.k8s.io/v1) and legacy Endpoints (v1)

/** `addressType` of an EndpointSlice. */
export type AddressType = 'IPv4' | 'IPv6' | 'FQDN';

/**
 * Conditions of one endpoint. An absent `ready` means ready (the API contract), an absent
 * `serving` means the same as `ready`, an absent `terminating` means false.
 */
export interface EndpointConditions {
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

/** Topology hints of one endpoint. */
export interface EndpointHints {
  forZones?: { name: string }[];
  forNodes?: { name: string }[];
}

/** One endpoint of an EndpointSlice (named so to keep `Endpoint` for the routing view). */
export interface EndpointSliceEndpoint {
  addresses: string[];
  conditions?: EndpointConditions;
  hostname?: string;
  targetRef?: ObjectReference;
  nodeName?: string;
  zone?: string;
  hints?: EndpointHints;
}

/** One port of an EndpointSlice. `port` absent means "all ports" and routes nowhere. */
export interface EndpointSlicePort {
  name?: string;
  protocol?: Protocol;
  port?: number;
  appProtocol?: string;
}

/** A discovery.k8s.io/v1 EndpointSlice. The owning service is the `kubernetes.io/service-name` label. */
export interface EndpointSlice extends TypeMeta {
  apiVersion: 'discovery.k8s.io/v1';
  kind: 'EndpointSlice';
  metadata: ObjectMeta;
  addressType: AddressType;
  endpoints: EndpointSliceEndpoint[];
  ports?: EndpointSlicePort[];
}

/** A legacy v1 Endpoints object (converted to EndpointSlices on load, as the mirroring controller does). */
export interface Endpoints extends TypeMeta {
  apiVersion: 'v1';
  kind: 'Endpoints';
  metadata: ObjectMeta;
  subsets?: {
    addresses?: { ip: string; hostname?: string; nodeName?: string; targetRef?: ObjectReference }[];
    notReadyAddresses?: { ip: string; hostname?: string; nodeName?: string; targetRef?: ObjectReference }[];
    ports?: { name?: string; port: number; protocol?: Protocol; appProtocol?: string }[];
  }[];
}

/** Every object kind svcroute stores. */
export type KubeObject = Service | Pod | EndpointSlice | Endpoints | Node | Namespace;

/** The `kind` strings of {@link KubeObject}. */
export type Kind = KubeObject['kind'];

/** Maps a kind string to its object type. */
export type ObjectOfKind<K extends Kind> = Extract<KubeObject, { kind: K }>;

/** The label carrying an EndpointSlice's service name. */
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
/** The label naming the controller that manages an EndpointSlice. */
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
/** The value of {@link LABEL_MANAGED_BY} on slices the built-in endpoints controller manages. */
export const ENDPOINTSLICE_CONTROLLER_NAME = 'endpointslice-controller.k8s.io';
/** Services labelled with this are ignored by kube-proxy (another proxy owns them). */
export const LABEL_SERVICE_PROXY_NAME = 'service.kubernetes.io/service-proxy-name';
/** Services labelled with this (any value) are headless to kube-proxy. */
export const LABEL_HEADLESS = 'service.kubernetes.io/headless';
/** Annotation enabling topology-aware hints. */
export const ANNOTATION_TOPOLOGY_MODE = 'service.kubernetes.io/topology-mode';
/** Legacy annotation enabling topology-aware hints. */
export const ANNOTATION_TOPOLOGY_AWARE_HINTS = 'service.kubernetes.io/topology-aware-hints';
/** Node label carrying the node's zone. */
export const LABEL_TOPOLOGY_ZONE = 'topology.kubernetes.io/zone';
