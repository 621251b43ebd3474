// The one error a kernel request raises, in a file of its own: the CNI plugin's error mapping
// imports it at every call, and must not load the netlink package to do so.

export type NetlinkCode = 'NETLINK_FAILED' | 'NETLINK_LINK_MISSING' | 'SYSCTL_FAILED';

/**
 * A kernel request failed; `message` is "<what>: <kernel's reason>". The CNI plugin reports it
 * as an I/O failure (spec code 5), podnetd as a wiring failure.
 */
export class NetlinkError extends Error {
  constructor(readonly code: NetlinkCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NetlinkError';
  }
}
