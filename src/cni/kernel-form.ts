// CHECK without podnetd (the standalone plugin, or podnetd down): what the plugin can see on
// its own of a pod's anti-spoofing in the kernel flow cache's form (hooks.ts), when the host
// veth has none of the u32 filters. The program attached to the veth, in either of the modes
// podnetd's loader uses (native/fastpath/attach.cc):
//   clsact  a cls_bpf filter on the clsact ingress whose program is named podnet_fastpath
//           (libbpf names the filter "podnet_fastpath:[id]"): read over rtnetlink
//           (netlink/tc.ts dumpIngressFilters), proof that the program runs there
//   tcx     invisible to rtnetlink: only the bpf syscall (BPF_PROG_QUERY) lists tcx programs,
//           and Node cannot make it. The evidence left is the loader's pin of the veth's link,
//           <bpffs>/podnet/v<N>/tcx_<ifindex> (bpffs: PODNET_BPFFS, else podnetd's default
//           /sys/fs/bpf): a pin, not proof that the link is live
// The pod's entry in the podnet_pods map (its MAC and addresses) is behind the bpf syscall in
// both modes: never verified here; podnetd's CHECK (its hook) reads it.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { closeRtnl, openRtnl } from '../netlink/socket';
import { dumpIngressFilters, type FilterStats } from '../netlink/tc';

/** The flow cache's tc program (SEC("tc") podnet_fastpath in native/bpf/flow_cache.bpf.c). */
export const FAST_PATH_PROGRAM = 'podnet_fastpath';

export interface KernelFormSeen {
  /** What was seen, for the log. */
  seen: string;
  /** What a CHECK without podnetd could not verify. */
  unverified: string[];
}

export const bpffsRoot = (): string => process.env.PODNET_BPFFS || '/sys/fs/bpf';

const UNVERIFIED_ENTRY = "the pod's anti-spoofing entry (MAC, addresses) in the podnet_pods map: BPF maps are read through podnetd only";

/** The podnet program as a cls_bpf filter among `filters`. Pure. */
export function clsactProgram(filters: FilterStats[]): FilterStats | undefined {
  return filters.find((f) => f.kind === 'bpf' && f.bpf && (f.bpf.name === FAST_PATH_PROGRAM || f.bpf.name.startsWith(`${FAST_PATH_PROGRAM}:`)));
}

/** The loader's pins of a tcx link for `ifindex` under `root` (every flow cache version). */
export function tcxPins(root: string, ifindex: number): string[] {
  const base = path.join(root, 'podnet');
  let versions: string[];
  try { versions = readdirSync(base).filter((v) => /^v\d+$/.test(v)); } catch { return []; }
  return versions.map((v) => path.join(base, v, `tcx_${ifindex}`)).filter((p) => existsSync(p));
}

/** The kernel form's program on the veth as far as the plugin alone can see it; undefined: none. */
export async function kernelFormSeen(ifindex: number, filters?: FilterStats[], root = bpffsRoot()): Promise<KernelFormSeen | undefined> {
  if (!filters) {
    const sock = openRtnl();
    try { filters = await dumpIngressFilters(sock, ifindex); } finally { closeRtnl(sock); }
  }
  const cls = clsactProgram(filters);
  if (cls) return { seen: `cls_bpf filter ${cls.bpf!.name} (pref ${cls.pref}) on the clsact ingress`, unverified: [UNVERIFIED_ENTRY] };
  const pins = tcxPins(root, ifindex);
  if (pins.length) {
    return {
      seen: `tcx link pinned at ${pins.join(', ')}`,
      unverified: ['that the pinned tcx link is live on this veth and runs podnet_fastpath: tcx is listed only by the bpf syscall', UNVERIFIED_ENTRY],
    };
  }
  return undefined;
}
