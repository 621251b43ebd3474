// The synthetic cluster the policy benchmarks share (compile.ts, first-packet.ts): N pods in 50
// namespaces (10.244.0.10 upwards, 50 nodes), M policies of a realistic mix, as validated
// objects (what the informer cache holds). Not a benchmark itself.
import type { PolicyInput } from '../../src/policy/compile';
import { validateNamespace, validateNetworkPolicy, validatePod } from '../../src/policy/validate';

export const NAMESPACES = 50;
const APPS = 20;

/** Pod i's address: 10.244.0.10 + i. */
export function podIP(i: number): string {
  return ipv4(0x0af40000 + i + 10);
}

export function ipv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function world(policies: number, pods: number): Omit<PolicyInput, 'nodeName'> {
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => validateNamespace({
    apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns-${i}`, labels: { team: `team-${i % 5}` } },
  }));
  const podList = Array.from({ length: pods }, (_, i) => validatePod({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: `pod-${i}`, namespace: `ns-${i % NAMESPACES}`, labels: { app: `app-${Math.floor(i / NAMESPACES) % APPS}`, role: i % 3 ? 'server' : 'client' } },
    spec: { nodeName: `node-${i % 50}`, containers: [{ name: 'c', image: 'x', ports: [{ containerPort: i % 7 ? 8080 : 9090, name: 'http' }, { containerPort: 9100, name: 'metrics' }] }] },
    status: { phase: 'Running', podIPs: [{ ip: podIP(i) }] },
  }));
  const policyList = Array.from({ length: policies }, (_, i) => {
    const ns = `ns-${i % NAMESPACES}`;
    if (i % 10 === 9) {
      return validateNetworkPolicy({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: `deny-${i}`, namespace: ns }, spec: { podSelector: {}, policyTypes: ['Ingress'] } });
    }
    const spec: Record<string, unknown> = {
      podSelector: { matchLabels: { app: `app-${i % APPS}` } },
      ingress: [{
        from: [
          { podSelector: { matchLabels: { app: `app-${(i + 1) % APPS}` } } },
          { namespaceSelector: { matchLabels: { team: `team-${i % 5}` } }, podSelector: { matchLabels: { role: 'client' } } },
        ],
        ports: [{ port: 80 }, { port: 'http' }, { protocol: 'UDP', port: 5000, endPort: 5100 }],
      }],
    };
    if (i % 4 === 0) {
      spec.egress = [
        { to: [{ namespaceSelector: { matchLabels: { team: `team-${(i + 2) % 5}` } }, podSelector: { matchLabels: { role: 'server' } } }], ports: [{ port: 'http' }] },
        { ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] },
      ];
    }
    return validateNetworkPolicy({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: `pol-${i}`, namespace: ns }, spec });
  });
  return { policies: policyList, pods: podList, namespaces, hostAddresses: ['192.168.56.11'] };
}
