// Policy's API source: informers (src/kube/informer.ts) for NetworkPolicies, Pods and
// Namespaces of the whole cluster → validate.ts → a PolicyObjectSink (PolicyControl). Every pod is
// watched, not only this node's: peers select pods in any namespace. At 5,000+ pods a full v1 Pod
// is tens of KiB (managedFields, status conditions, env, volumes), so the informer keeps only the
// fields validatePod reads (podForPolicy); terminal pods are filtered by the API server already.
// While the API is away the last-known objects stay compiled, as for services.
import * as k8s from '@kubernetes/client-node';
import pino, { type Logger } from 'pino';
import { connectionOf, type InformerConnection, InformerGroup, type InformerStatus } from '../kube/informer';
import { objectKey } from '../kube/objects';
import type { PolicyObjectSink } from './sources';
import { validateNamespace, validateNetworkPolicy, validatePod } from './validate';

export interface PolicyKubeSourceOptions extends InformerConnection {
  sink: PolicyObjectSink;
  logger?: Logger;
  /** Called for every object validation rejected (podnet_invalid_objects_total). */
  onInvalid?: () => void;
}

export type PolicyInformerKind = 'NetworkPolicy' | 'Pod' | 'Namespace';

// Succeeded / Failed pods have released their IP (it may already belong to another pod): not peers.
const LIVE_PODS = 'status.phase!=Succeeded,status.phase!=Failed';

type Obj = Record<string, any>;

function containerPorts(list: unknown, sidecarsOnly: boolean): Obj[] | undefined {
  if (!Array.isArray(list)) return undefined;
  const out: Obj[] = [];
  for (const c of list as Obj[]) {
    if (sidecarsOnly && c?.restartPolicy !== 'Always') continue;
    const ports = Array.isArray(c?.ports) ? (c.ports as Obj[]).filter((p) => p?.name) : [];
    if (!ports.length) continue;
    out.push({
      ...(sidecarsOnly ? { restartPolicy: c.restartPolicy } : {}),
      ports: ports.map((p) => ({ name: p.name, containerPort: p.containerPort, ...(p.protocol ? { protocol: p.protocol } : {}) })),
    });
  }
  return out;
}

/**
 * A v1 Pod reduced to what validatePod reads (labels, node, hostNetwork, named ports, phase, IPs)
 * plus what the informer cache needs (name, namespace, resourceVersion): a few hundred bytes.
 */
export function podForPolicy(p: k8s.V1Pod): k8s.V1Pod {
  const o = p as Obj;
  const md = o.metadata ?? {};
  const spec = o.spec ?? {};
  const status = o.status ?? {};
  const initContainers = containerPorts(spec.initContainers, true);
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: md.name, namespace: md.namespace, resourceVersion: md.resourceVersion,
      ...(md.labels ? { labels: md.labels } : {}),
    },
    spec: {
      ...(spec.nodeName ? { nodeName: spec.nodeName } : {}),
      ...(spec.hostNetwork ? { hostNetwork: true } : {}),
      containers: containerPorts(spec.containers, false) ?? [],
      ...(initContainers?.length ? { initContainers } : {}),
    },
    status: {
      ...(status.phase ? { phase: status.phase } : {}),
      ...(status.podIP ? { podIP: status.podIP } : {}),
      ...(Array.isArray(status.podIPs) ? { podIPs: (status.podIPs as Obj[]).map((x) => ({ ip: x?.ip })) } : {}),
    },
  } as k8s.V1Pod;
}

/**
 * A listed NetworkPolicy back in the API's JSON shape. List calls return the client's typed
 * models, which rename ingress `from` to `_from` (a reserved word in their generator); watch
 * events arrive as plain JSON. Read as is, every `from` would look absent: "any peer".
 */
export function networkPolicyWire(np: k8s.V1NetworkPolicy): k8s.V1NetworkPolicy {
  const rules = (np as Obj).spec?.ingress;
  if (!Array.isArray(rules) || !rules.some((r: Obj) => r && '_from' in r)) return np;
  const ingress = rules.map((r: Obj) => {
    if (!r || !('_from' in r)) return r;
    const { _from, ...rest } = r;
    return { ...rest, ...(_from !== undefined ? { from: _from } : {}) };
  });
  return { ...np, spec: { ...(np as Obj).spec, ingress } } as k8s.V1NetworkPolicy;
}

/** Feeds NetworkPolicies, Pods and Namespaces from the API into policy's control loop. */
export class PolicyKubeSource {
  private readonly group: InformerGroup;

  constructor(private readonly opts: PolicyKubeSourceOptions) {
    const log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'policy-kube-source' });
    this.group = new InformerGroup({
      logger: log,
      // Compiling before all three kinds are listed would isolate pods against half the peers.
      onSynced: () => opts.sink.setInitialized(),
      ...(opts.onInvalid ? { onInvalid: opts.onInvalid } : {}),
      ...connectionOf(opts),
    });
  }

  async start(): Promise<void> {
    const { sink } = this.opts;
    const kc = this.group.kubeConfig;
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const net = kc.makeApiClient(k8s.NetworkingV1Api);
    // API objects always carry their namespace; the '' default makes a missing one an invalid object.
    this.group.add<k8s.V1NetworkPolicy>({
      kind: 'NetworkPolicy', path: '/apis/networking.k8s.io/v1/networkpolicies',
      list: () => net.listNetworkPolicyForAllNamespaces({}),
      transform: networkPolicyWire,
      onUpsert: (o) => { const info = validateNetworkPolicy(o, ''); sink.setNetworkPolicy(info.key, info); },
      onDelete: (o) => sink.setNetworkPolicy(objectKey(o), undefined),
    });
    this.group.add<k8s.V1Pod>({
      kind: 'Pod', path: '/api/v1/pods', fieldSelector: LIVE_PODS,
      list: () => core.listPodForAllNamespaces({ fieldSelector: LIVE_PODS }),
      transform: podForPolicy,
      onUpsert: (o) => { const info = validatePod(o, ''); sink.setPod(info.key, info); },
      onDelete: (o) => sink.setPod(objectKey(o), undefined),
    });
    this.group.add<k8s.V1Namespace>({
      kind: 'Namespace', path: '/api/v1/namespaces',
      list: () => core.listNamespace({}),
      onUpsert: (o) => { const info = validateNamespace(o); sink.setNamespace(info.name, info); },
      onDelete: (o) => sink.setNamespace(objectKey(o), undefined),
    });
    await this.group.start();
  }

  async stop(): Promise<void> {
    await this.group.stop();
  }

  /** Per kind: listed yet, restarts so far, objects cached. */
  status(): Record<PolicyInformerKind, InformerStatus> {
    return this.group.status() as Record<PolicyInformerKind, InformerStatus>;
  }
}
