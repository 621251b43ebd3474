// This node's pods as the kernel flow cache needs them: every port of the bridge whose alias
// the CNI plugin wrote with the pod's MAC (pod-alias.ts) is a pod, with its host veth's
// ifindex, its addresses, its MAC, and the bridge's MAC as its gateway's. The watch re-reads
// the bridge's ports on every link event (netlink/events.ts: a veth joining, renamed, gone)
// and hands the differences to its handlers, so it works whether the pod was added by
// podnetd's CNI server, by the plugin alone while podnetd was down, or before a restart.
import { watchLinks, type ChangeWatch } from '../netlink/events';
import { allLinks, type LinkInfo } from '../netlink/link';
import { closeRtnl, openRtnl, type Rtnl } from '../netlink/socket';
import { aliasAddresses, aliasMac } from './pod-alias';

export interface BridgePod {
  ifindex: number;
  name: string;
  mac: string;
  gatewayMac: string;
  addresses: string[];
}

/** The pods behind the bridge's ports, from one link dump; none while the bridge is absent. */
export function bridgePods(links: LinkInfo[], bridge: string): BridgePod[] {
  const br = links.find((l) => l.name === bridge);
  if (!br?.mac) return [];
  const out: BridgePod[] = [];
  for (const l of links) {
    if (l.master !== br.index) continue;
    const mac = aliasMac(l.alias);
    const addresses = aliasAddresses(l.alias);
    if (mac && addresses.length) out.push({ ifindex: l.index, name: l.name, mac, gatewayMac: br.mac, addresses });
  }
  return out;
}

export interface LocalPodHandlers {
  /** A pod appeared, or its facts changed. Throwing leaves it to be tried again on the next event. */
  add(pod: BridgePod): void;
  /** The pod's veth left the bridge or is gone. */
  remove(ifindex: number, name: string): void;
  /** The dump failed (logged by the caller; the next event tries again). */
  error(e: unknown): void;
}

const key = (p: BridgePod) => `${p.name} ${p.mac} ${p.gatewayMac} ${p.addresses.join(',')}`;

export class LocalPodWatch {
  private readonly known = new Map<number, { key: string; name: string }>();
  private watch: ChangeWatch | undefined;
  private sock: Rtnl | undefined;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(private readonly bridge: string, private readonly h: LocalPodHandlers) {}

  /** Subscribes first, then reads the ports: no change can fall between the two. */
  async start(): Promise<void> {
    this.sock = openRtnl();
    this.watch = watchLinks(() => void this.reconcile());
    await this.reconcile();
  }

  /** The pods handed to add() and not removed since. */
  get pods(): number { return this.known.size; }

  /** Re-reads the bridge's ports; overlapping calls merge into one more pass. */
  reconcile(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again && this.sock);
    })().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async pass(): Promise<void> {
    if (!this.sock) return;
    let pods: BridgePod[];
    try { pods = bridgePods(await allLinks(this.sock), this.bridge); } catch (e) { this.h.error(e); return; }
    const seen = new Set<number>();
    for (const p of pods) {
      seen.add(p.ifindex);
      const k = key(p);
      if (this.known.get(p.ifindex)?.key === k) continue;
      try {
        this.h.add(p);
        this.known.set(p.ifindex, { key: k, name: p.name });
      } catch (e) { this.h.error(e); }
    }
    for (const [ifindex, { name }] of this.known) {
      if (seen.has(ifindex)) continue;
      this.known.delete(ifindex);
      this.h.remove(ifindex, name);
    }
  }

  close(): void {
    this.watch?.close();
    this.watch = undefined;
    if (this.sock) closeRtnl(this.sock);
    this.sock = undefined;
  }
}
