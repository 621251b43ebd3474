// Configuration 1, the ceiling: the client talks to the server pods' own addresses, routed by
// the node namespace's kernel (isolated bridge ports + proxy ARP, the same hop the other
// configurations take), with no NAT and no rules at all.
import { routeInKernel, type Topology } from '../topology';
import { podTargets } from './services';
import type { Active, Configuration } from './types';

export const direct: Configuration = {
  id: 'direct',
  label: 'direct pod→pod',
  async setup(topo: Topology): Promise<Active> {
    await routeInKernel(topo.sb);
    return {
      targets: podTargets(topo),
      async teardown() { /* the sandbox goes with its namespaces */ },
    };
  },
};
