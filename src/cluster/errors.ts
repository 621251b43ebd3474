// Errors of cross-node routing (src/cluster): Node parsing, the desired-state model, programming.
// Stable `code`s so that podnetd and tests can tell a bad Node object from a failed netlink step.

export type ClusterErrorCode =
  | 'CLUSTER_BAD_NODE'      // a v1 Node object lacks what cross-node routing needs, or is malformed
  | 'CLUSTER_NO_SELF'       // this node's own Node object is not among the nodes given
  | 'CLUSTER_BAD_CONFIG'    // mode / VXLAN parameters out of range
  | 'CLUSTER_PROGRAM'       // an iproute2 step failed while programming the current netns
  | 'CLUSTER_HOST_NETNS';   // refused to program outside a named (sandbox) namespace

export class ClusterError extends Error {
  constructor(readonly code: ClusterErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClusterError';
  }
}
