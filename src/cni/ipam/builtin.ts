// Built-in IPAM (`ipam.type: "podnet"`): host-local's schema and semantics on the DiskStore.
// One reservation per range set, keyed by container ID + ifname, all under the store's lock.
import type { Attachment, BuiltinIpamConf, NetConf } from '../config';
import type { CniEnv } from '../env';
import { CheckError, NotAvailableError, toCniError } from '../errors';
import { formatNetwork } from '../../net/cidr';
import { canonicalIp, formatIp } from '../../net/ip';
import { allocate, resolveRangeSets, type Range } from './allocator';
import { requestedIps, type Ipam, type IpamResult } from './ipam';
import { nodePodCidrs } from './node';
import { DiskStore } from './store';

export class BuiltinIpam implements Ipam {
  private readonly store: DiskStore;
  private sets?: Range[][];

  constructor(private readonly conf: NetConf, private readonly ipam: BuiltinIpamConf, private readonly env: CniEnv) {
    this.store = new DiskStore(ipam.dataDir, conf.name);
  }

  private rangeSets(): Range[][] {
    return (this.sets ??= resolveRangeSets(this.ipam.rangeSets, () => nodePodCidrs()));
  }

  add(): IpamResult {
    const sets = this.rangeSets();
    const requested = requestedIps(this.conf, this.env);
    const { containerId: id, ifname } = this.env;
    return this.store.withLock(() => {
      const ips = [];
      try {
        for (let i = 0; i < sets.length; i++) ips.push(allocate(this.store, sets[i], i, id, ifname, requested));
      } catch (e) {
        // Dual-stack is all or nothing: give back the v4 address when v6 fails.
        this.store.releaseById(id, ifname);
        throw e;
      }
      return {
        ips,
        routes: this.ipam.routes.map((r) => ({ dst: formatNetwork(r.dst), ...(r.gw ? { gw: formatIp(r.gw) } : {}) })),
      };
    });
  }

  del(): void {
    this.store.withLock(() => this.store.releaseById(this.env.containerId, this.env.ifname));
  }

  held(): string[] {
    return this.store.getById(this.env.containerId, this.env.ifname);
  }

  /** Every reserved address of the network (GC keeps proxy entries for these). */
  all(): string[] {
    return this.store.list().map((r) => r.ip);
  }

  check(ips: string[]): void {
    const held = new Set(this.store.getById(this.env.containerId, this.env.ifname).map(canonicalIp));
    for (const ip of ips) {
      if (!held.has(canonicalIp(ip.split('/')[0]))) throw new CheckError(`IPAM holds no reservation of ${ip} for ${this.env.containerId}/${this.env.ifname}`);
    }
  }

  gc(valid: Attachment[]): void {
    const keep = new Set(valid.map((a) => `${a.containerID}\n${a.ifname}`));
    this.store.withLock(() => {
      for (const r of this.store.list()) {
        if (!keep.has(`${r.containerId}\n${r.ifname}`)) this.store.release(r.ip);
      }
    });
  }

  status(): void {
    try { this.rangeSets(); } catch (e) { throw new NotAvailableError(toCniError(e).message); }
  }
}
