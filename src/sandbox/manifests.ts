// Kubernetes objects for a sandbox's manifest directory: a Service and its EndpointSlices (one per
// family) in the exact API shape a cluster serves, built from sandbox pods. podnetd reads them
// through the real control plane (ManifestSource → ControlPlane → engine), as on a node without
// an API server. Writes are atomic (temp file + rename) so podnetd never reads half a file.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Pod } from './sandbox';

export interface PortDef {
  name: string;
  port: number;
  targetPort: number;
  protocol?: 'TCP' | 'UDP';
}

export interface EndpointDef {
  pod: Pod;
  /** Default true. false: not ready (left out of new flows, unless terminating and serving). */
  ready?: boolean;
  terminating?: boolean;
}

export interface ServiceDef {
  name: string;
  namespace?: string;
  /** One or two (one per family) cluster IPs. */
  clusterIPs: string[];
  ports: PortDef[];
  endpoints: EndpointDef[];
  /** ClientIP affinity timeout; absent: no affinity. */
  affinityTimeoutSec?: number;
  nodeName?: string;
}

type Obj = Record<string, unknown>;

function familyOf(ip: string): 4 | 6 { return ip.includes(':') ? 6 : 4; }

/** The Service and one EndpointSlice per family of its cluster IPs. */
export function serviceObjects(def: ServiceDef): Obj[] {
  const namespace = def.namespace ?? 'default';
  const families = def.clusterIPs.map(familyOf);
  const svc: Obj = {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: def.name, namespace, labels: { app: def.name } },
    spec: {
      type: 'ClusterIP',
      clusterIP: def.clusterIPs[0],
      clusterIPs: def.clusterIPs,
      ipFamilies: families.map((f) => `IPv${f}`),
      ipFamilyPolicy: def.clusterIPs.length > 1 ? 'RequireDualStack' : 'SingleStack',
      internalTrafficPolicy: 'Cluster',
      ports: def.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol ?? 'TCP', targetPort: p.targetPort })),
      selector: { app: def.name },
      sessionAffinity: def.affinityTimeoutSec ? 'ClientIP' : 'None',
      ...(def.affinityTimeoutSec ? { sessionAffinityConfig: { clientIP: { timeoutSeconds: def.affinityTimeoutSec } } } : {}),
    },
  };
  const slices = families.map((f): Obj => ({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: `IPv${f}`,
    metadata: {
      name: `${def.name}-v${f}`, namespace,
      labels: { 'kubernetes.io/service-name': def.name, 'endpointslice.kubernetes.io/managed-by': 'podnet-sandbox' },
    },
    ports: def.ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: p.protocol ?? 'TCP' })),
    endpoints: def.endpoints.map((e) => {
      const terminating = e.terminating === true;
      const ready = !terminating && e.ready !== false;
      return {
        addresses: [f === 4 ? e.pod.ip4 : e.pod.ip6],
        conditions: { ready, serving: ready || terminating, terminating },
        ...(def.nodeName ? { nodeName: def.nodeName } : {}),
        targetRef: { kind: 'Pod', name: e.pod.name, namespace },
      };
    }),
  }));
  return [svc, ...slices];
}

/** Multi-document YAML of objects. */
export function toYaml(objects: Obj[]): string {
  return objects.map((o) => stringify(o)).join('---\n');
}

/** Writes `name` (e.g. "web.yaml") in `dir` atomically. */
export function writeManifest(dir: string, name: string, objects: Obj[] | string): string {
  const file = path.join(dir, name);
  const tmp = path.join(dir, `.${name}.tmp`);
  writeFileSync(tmp, typeof objects === 'string' ? objects : toYaml(objects));
  renameSync(tmp, file);
  return file;
}

export function removeManifest(dir: string, name: string): void {
  rmSync(path.join(dir, name), { force: true });
}
