// This node's pods as the kernel flow cache needs them: every port of the bridge whose alias
// the CNI plugin wrote with the pod's MAC (pod-alias.ts) is a pod, with its host veth's
// ifindex, its addresses, its MAC, the bridge's MAC as its gateway's, and whether its network
// config wants anti-spoofing (a pod without it is still cached, just not policed). The watch re-reads
// the bridge's ports on every link event (netlink/events.ts: a veth joining, renamed, gone)
// and hands the differences to its handlers, so it works whether the pod was added by
// podnetd's CNI server, by the plugin alone while podnetd was down, or before a restart.
// podnetd's CNI server installs a pod's anti-spoofing itself at ADD, before the link events
// arrive, and tells the watch (adopt): the pod is known, add() is not called for it again.
import { watchLinks, type ChangeWatch } from '../netlink/events';
import { allLinks, type LinkInfo } from '../netlink/link';
import { closeRtnl, openRtnl, type Rtnl } from '../netlink/socket';
import { aliasAddresses, aliasAntiSpoofing, aliasMac } from './pod-alias';

export interface BridgePod {
  ifindex: number;
  name: string;
  mac: string;
  gatewayMac: string;
  addresses: string[];
  /** false for a pod attached with `antiSpoofing: false` (its alias's antispoof=off). */
  antiSpoofing: boolean;
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
    if (mac && addresses.length) out.push({ ifindex: l.index, name: l.name, mac, gatewayMac: br.mac, addresses, antiSpoofing: aliasAntiSpoofing(l.alias) });
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

const key = (p: BridgePod) => `${p.name} ${p.mac} ${p.gatewayMac} ${p.addresses.join(',')} ${p.antiSpoofing}`;

export class LocalPodWatch {
  /** `pass`: the pass during which the pod became known (a dump read before it may lack it). */
  private readonly known = new Map<number, { key: string; name: string; pass: number }>();
  private passes = 0;
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

  /** The pods handed to add() or adopted, and not removed since. */
  get pods(): number { return this.known.size; }

  /** Whether add() was done for the pod as it is now (same veth, MAC, gateway, addresses, anti-spoofing). */
  knows(pod: BridgePod): boolean {
    return this.known.get(pod.ifindex)?.key === key(pod);
  }

  /**
   * A pod whose add() the caller has done itself (the CNI server at ADD): known from now on,
   * removed like any other when its veth goes. A pass whose dump was read before this call
   * does not take its absence for a removal.
   */
  adopt(pod: BridgePod): void {
    this.known.set(pod.ifindex, { key: key(pod), name: pod.name, pass: this.passes });
  }

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
    const pass = ++this.passes;
    let pods: BridgePod[];
    try { pods = bridgePods(await allLinks(this.sock), this.bridge); } catch (e) { this.h.error(e); return; }
    const seen = new Set<number>();
    for (const p of pods) {
      seen.add(p.ifindex);
      const k = key(p);
      if (this.known.get(p.ifindex)?.key === k) continue;
      try {
        this.h.add(p);
        this.known.set(p.ifindex, { key: k, name: p.name, pass });
      } catch (e) { this.h.error(e); }
    }
    for (const [ifindex, { name, pass: since }] of this.known) {
      if (seen.has(ifindex) || since >= pass) continue;
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
