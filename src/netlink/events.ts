// Change notifications: an rtnetlink socket joined to multicast groups, so podnetd learns of
// a change the moment the kernel applies it, without polling:
//   addresses  RTNLGRP_IPV4_IFADDR / RTNLGRP_IPV6_IFADDR (RTM_NEWADDR / RTM_DELADDR): a DHCP
//              renewal or an `ip addr add` on an uplink
//   links      RTNLGRP_LINK (RTM_NEWLINK / RTM_DELLINK): a pod's veth joining or leaving the bridge
// Bursts are merged: the callback runs once per quiet period and re-reads what it needs.
// Bound to the netns the caller is in.
import { createRtNetlink } from 'netlink/dist/rt/rt';
import { wrap } from './socket';

export interface ChangeWatch {
  close(): void;
}

function watch(groups: ('IPV4_IFADDR' | 'IPV6_IFADDR' | 'LINK')[], kind: string, onChange: () => void, debounceMs: number): ChangeWatch {
  let sock;
  try {
    sock = createRtNetlink();
    for (const g of groups) sock.addMembership(g);
  } catch (e) {
    sock?.socket.close();
    throw wrap(e, `subscribe to ${kind} changes`);
  }
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  sock.on('message', (msgs) => {
    if (closed || !msgs.some((m) => m.kind === kind)) return;
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

/** Calls `onChange` (debounced by `debounceMs`, default 100) after addresses were added or removed. */
export function watchAddresses(onChange: () => void, debounceMs = 100): ChangeWatch {
  return watch(['IPV4_IFADDR', 'IPV6_IFADDR'], 'address', onChange, debounceMs);
}

/** Calls `onChange` (debounced by `debounceMs`, default 20) after links were created, changed or deleted. */
export function watchLinks(onChange: () => void, debounceMs = 20): ChangeWatch {
  return watch(['LINK'], 'link', onChange, debounceMs);
}

/**
 * `subscribe(onChange)` (watchAddresses, watchLinks, ...), or, when the subscription cannot be
 * made (`onFallback` says why), `onChange` every `pollMs`. Either way one handle closes it.
 */
export function watchOrPoll(subscribe: (onChange: () => void) => ChangeWatch, onChange: () => void, pollMs: number,
  onFallback: (err: unknown) => void): ChangeWatch {
  try {
    return subscribe(onChange);
  } catch (err) {
    onFallback(err);
    const poll = setInterval(onChange, pollMs);
    poll.unref();
    return { close: () => clearInterval(poll) };
  }
}
