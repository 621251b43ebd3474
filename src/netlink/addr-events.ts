// Address change notifications: an rtnetlink socket joined to the IPv4 and IPv6 address multicast
// groups (RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR), so podnetd learns of a DHCP renewal or an
// `ip addr add` the moment the kernel applies it (RTM_NEWADDR / RTM_DELADDR), without polling.
// Bursts (a renewal removes and adds) are merged: the callback runs once per quiet period and
// re-reads what it needs (addr.ts globalAddresses). Bound to the netns the caller is in.
import { createRtNetlink } from 'netlink/dist/rt/rt';
import { wrap } from './socket';

export interface AddressWatch {
  close(): void;
}

/** Calls `onChange` (debounced by `debounceMs`, default 100) after addresses were added or removed. */
export function watchAddresses(onChange: () => void, debounceMs = 100): AddressWatch {
  let sock;
  try {
    sock = createRtNetlink();
    sock.addMembership('IPV4_IFADDR');
    sock.addMembership('IPV6_IFADDR');
  } catch (e) {
    sock?.socket.close();
    throw wrap(e, 'subscribe to address changes');
  }
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  sock.on('message', (msgs) => {
    if (closed || !msgs.some((m) => m.kind === 'address')) return;
    clearTimeout(timer);
    timer = setTimeout(() => { if (!closed) onChange(); }, debounceMs);
  });
  const s = sock;
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      s.socket.close();
    },
  };
}
