/**
 * Service → per-port routing settings, the way kube-proxy's service change tracker derives its
 * `BaseServicePortInfo` (newBaseServiceInfo), including which services it leaves out.
 *
 * @module
 */
import { DEFAULT_CLIENT_IP_AFFINITY_TIMEOUT_S } from '../core/defaults';
import {
  type AffinitySpec,
  type ServicePortInfo,
  type ServicePortName,
  servicePortKey,
} from '../core/snapshot';
import {
  ANNOTATION_TOPOLOGY_AWARE_HINTS,
  ANNOTATION_TOPOLOGY_MODE,
  LABEL_HEADLESS,
  LABEL_SERVICE_PROXY_NAME,
  type Service,
} from '../core/types';

/**
 * True when kube-proxy ignores the service entirely: it carries a service-proxy-name or headless
 * label (kube-proxy's informers filter those out), or it has no cluster IP (headless, ExternalName).
 */
export function isSkippedByProxy(svc: Service): boolean {
  const labels = svc.metadata.labels;
  if (labels && (Object.hasOwn(labels, LABEL_SERVICE_PROXY_NAME) || Object.hasOwn(labels, LABEL_HEADLESS)))
    return true;
  if (svc.spec.type === 'ExternalName') return true;
  const ip = svc.spec.clusterIP ?? svc.spec.clusterIPs?.[0] ?? '';
  return ip === '' || ip === 'None';
}

/** `NodePort`, `LoadBalancer`, or a ClusterIP service with external IPs (apiservice.ExternallyAccessible). */
export function isExternallyAccessible(svc: Service): boolean {
  const t = svc.spec.type ?? 'ClusterIP';
  return (
    t === 'LoadBalancer' || t === 'NodePort' || (t === 'ClusterIP' && (svc.spec.externalIPs?.length ?? 0) > 0)
  );
}

/** externalTrafficPolicy Local on an externally accessible service (apiservice.ExternalPolicyLocal). */
export function isExternalPolicyLocal(svc: Service): boolean {
  return isExternallyAccessible(svc) && svc.spec.externalTrafficPolicy === 'Local';
}

/** A LoadBalancer service with external policy Local needs a health check node port. */
export function needsHealthCheck(svc: Service): boolean {
  return (svc.spec.type ?? 'ClusterIP') === 'LoadBalancer' && isExternalPolicyLocal(svc);
}

/** The per-port routing settings of a (defaulted) service; empty when kube-proxy would skip it. */
export function servicePortInfos(svc: Service): ServicePortInfo[] {
  if (isSkippedByProxy(svc)) return [];
  const spec = svc.spec;
  const namespace = svc.metadata.namespace ?? 'default';
  const name = svc.metadata.name ?? '';
  const sessionAffinity: AffinitySpec =
    spec.sessionAffinity === 'ClientIP'
      ? {
          type: 'ClientIP',
          timeoutSeconds:
            spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_CLIENT_IP_AFFINITY_TIMEOUT_S,
        }
      : { type: 'None' };
  const clusterIPs = spec.clusterIPs?.length ? [...spec.clusterIPs] : spec.clusterIP ? [spec.clusterIP] : [];
  const externalPolicyLocal = isExternalPolicyLocal(svc);
  const internalPolicyLocal = spec.internalTrafficPolicy === 'Local';
  // Proxy-mode load balancers handle traffic themselves; only VIP-mode ingress IPs are routed.
  const loadBalancerVIPs: string[] = [];
  for (const ing of svc.status?.loadBalancer?.ingress ?? []) {
    if (!ing.ip) continue;
    if (ing.ipMode === 'Proxy') continue;
    loadBalancerVIPs.push(ing.ip);
  }
  const healthCheckNodePort = needsHealthCheck(svc) ? (spec.healthCheckNodePort ?? 0) : 0;
  // The deprecated annotation wins when both are present (kube-proxy's order).
  const annotations = svc.metadata.annotations;
  const topologyMode =
    annotations && Object.hasOwn(annotations, ANNOTATION_TOPOLOGY_AWARE_HINTS)
      ? annotations[ANNOTATION_TOPOLOGY_AWARE_HINTS]
      : annotations?.[ANNOTATION_TOPOLOGY_MODE];
  const out: ServicePortInfo[] = [];
  for (const p of spec.ports ?? []) {
    const protocol = p.protocol ?? 'TCP';
    const portName: ServicePortName = { namespace, name, port: p.name ?? '', protocol };
    out.push({
      name: portName,
      key: servicePortKey(portName),
      type: spec.type ?? 'ClusterIP',
      clusterIPs,
      port: p.port,
      protocol,
      targetPort: p.targetPort ?? p.port,
      nodePort: p.nodePort ?? 0,
      ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}),
      sessionAffinity,
      externalIPs: [...(spec.externalIPs ?? [])],
      loadBalancerVIPs,
      loadBalancerSourceRanges: [...(spec.loadBalancerSourceRanges ?? [])],
      externalPolicyLocal,
      internalPolicyLocal,
      healthCheckNodePort,
      ...(spec.trafficDistribution ? { trafficDistribution: spec.trafficDistribution } : {}),
      ...(topologyMode !== undefined ? { topologyMode } : {}),
    });
  }
  return out;
}
