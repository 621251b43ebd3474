// The services plane's subscription to the manifest directory (src/kube/manifest.ts): v1
// Services, discovery.k8s.io/v1 EndpointSlices and v1 Nodes, validated into the normalized
// objects of objects.ts and handed to an ObjectSink (the ControlPlane).
import type { ManifestSubscription } from '../kube/manifest';
import type { ObjectSink } from './control-plane';
import type { EndpointSliceInfo, NodeInfo, ServiceInfo } from './objects';
import { objectKind, validateEndpointSlice, validateNode, validateService } from './validate';

export function servicesManifestSubscription(sink: ObjectSink): ManifestSubscription {
  return {
    plane: 'services',
    kinds: [['v1', 'Service'], ['discovery.k8s.io/v1', 'EndpointSlice'], ['v1', 'Node']],
    parse: (o, ns) => {
      switch (objectKind(o)) {
        case 'Service': { const info = validateService(o, ns); return { kind: 'Service', key: info.key, info }; }
        case 'EndpointSlice': {
          const info = validateEndpointSlice(o, ns);
          const md = (o as { metadata: { name: string; namespace?: string } }).metadata;
          return { kind: 'EndpointSlice', key: `${md.namespace ?? ns}/${md.name}`, info };
        }
        case 'Node': { const info = validateNode(o); return { kind: 'Node', key: info.name, info }; }
        default: return undefined;
      }
    },
    set: (kind, key, info) => {
      if (kind === 'Service') sink.setService(key, info as ServiceInfo | undefined);
      else if (kind === 'EndpointSlice') sink.setEndpointSlice(key, (info as EndpointSliceInfo | null | undefined) ?? undefined);
      else sink.setNode(key, info as NodeInfo | undefined);
    },
    setInitialized: () => sink.setInitialized(),
  };
}
