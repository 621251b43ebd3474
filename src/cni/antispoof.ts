// The CNI side of anti-spoofing (config `antiSpoofing`, default true), in one of two forms:
//   kernel  in podnetd's CNI server while its kernel flow cache is on (hooks.ts): the pod's
//           entry in the cache's BPF map and the tc program on its host veth, through the
//           engine, synchronously (a map write and a link: well under a millisecond)
//   u32     everywhere else: the u32 filters of src/node/antispoof.ts on a clsact ingress of
//           the host veth, over the rtnetlink socket ADD already holds (netlink/tc.ts; no exec)
// Both enforce the same policy and are in place before configure-netns brings the pod's
// interface up. CHECK verifies the form the veth has: the kernel entry when the host has one
// for it, else the filters, read back with `tc filter show` (the reader is shared with
// podnetd's counters); without the host's hook, a veth with no filter but the kernel form's
// program passes on what the plugin alone can see of it (kernel-form.ts). DEL: the filters and the attachment go with the veth, the kernel entry
// through the hook (and podnetd's watch of the bridge). Runs in the plugin's own namespace
// (the node's), like the rest of ADD; in podnetd's CNI server the same code runs inside the daemon.
import { spawn } from 'node:child_process';
import { canonicalIp } from '../net/ip';
import { antispoofRules, diffInstalled, parseFilterShow, type PodAddresses } from '../node/antispoof';
import { DROP_DEV, DROP_PEER } from '../node/drop-sink';
import type { BridgePod } from '../node/local-pods';
import { CheckError, IoError } from './errors';
import type { KernelAntispoof } from './hooks';
import { bpffsRoot, FAST_PATH_PROGRAM, kernelFormSeen } from './kernel-form';
import { silent, type Log } from './log';
import { ensureDownVeth } from '../netlink/link';
import { closeRtnl, openRtnl, type Rtnl } from '../netlink/socket';
import { dumpIngressFilters, installU32, removeClsact, type FilterStats } from '../netlink/tc';

/** Runs tc in this namespace; asynchronous so podnetd's event loop never blocks on it. */
function tc(argv: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('tc', argv, { stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
    let out = ''; let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.on('error', (e) => reject(new IoError(`tc ${argv.join(' ')}: ${e.message}`, { cause: e })));
    child.on('close', (status) => {
      if (status === 0) resolve(out);
      else reject(new IoError(`tc ${argv.join(' ')}: ${(err || `exit ${status}`).trim()}`));
    });
    child.stdin.on('error', () => { /* exited early: the status says why */ });
    child.stdin.end(input ?? '');
  });
}

/** Splits "10.244.1.5/24"-style addresses by family; with the pod interface's MAC. */
export function podAddresses(addresses: string[], mac?: string): PodAddresses {
  const bare = addresses.map((a) => a.split('/')[0]);
  return { ipv4: bare.filter((a) => !a.includes(':')), ipv6: bare.filter((a) => a.includes(':')), ...(mac ? { mac: mac.toLowerCase() } : {}) };
}

export type AntispoofForm = 'kernel' | 'u32';

/**
 * ADD step: the kernel form when the host lends one, else (or when the cache cannot hold the
 * pod, e.g. more addresses of a family than its entry has room for) the u32 filters.
 */
export async function installAntispoof(sock: Rtnl, pod: BridgePod, kernel: KernelAntispoof | undefined, log: Log): Promise<AntispoofForm> {
  if (kernel) {
    try {
      kernel.install(pod);
      return 'kernel';
    } catch (e) {
      log.warn({ err: (e as Error).message, veth: pod.name }, 'anti-spoofing: the kernel flow cache cannot hold the pod; u32 filters instead');
      try { kernel.remove(pod.ifindex); } catch { /* the filters below protect it either way */ }
    }
  }
  await installU32Antispoof(sock, { index: pod.ifindex }, pod.addresses, pod.mac);
  return 'u32';
}

/** The u32 form: the sink, then clsact + every filter on the veth, over rtnetlink (netlink/tc.ts). */
export async function installU32Antispoof(sock: Rtnl, veth: { index: number }, addresses: string[], mac: string): Promise<void> {
  let rules;
  try { rules = antispoofRules(podAddresses(addresses, mac)); } catch (e) {
    // An address the rules cannot express (e.g. more than 10 of a family from a delegated IPAM).
    throw new IoError(`anti-spoofing: ${(e as Error).message}`, { cause: e });
  }
  await installU32(sock, veth.index, rules, await ensureDownVeth(sock, DROP_DEV, DROP_PEER));
}

/** Undo of the ADD step (the veth's own undo removes it too; this covers a veth that stays). */
export async function removeAntispoof(sock: Rtnl, veth: { index: number }, form: AntispoofForm, kernel: KernelAntispoof | undefined): Promise<void> {
  if (form === 'kernel') kernel?.remove(veth.index);
  else await removeClsact(sock, veth.index);
}

const sameAddresses = (a: string[], b: string[]) => {
  const x = new Set(a.map((i) => canonicalIp(i.split('/')[0])));
  const y = new Set(b.map((i) => canonicalIp(i.split('/')[0])));
  return x.size === y.size && [...x].every((i) => y.has(i));
};

/**
 * CHECK: the kernel entry when the host holds one for the veth (its MAC, its addresses, the
 * program attached), else every filter the pod's addresses call for on `veth`, matching and
 * acting as built. Without the host's hook (the standalone plugin, podnetd down) a veth with
 * no u32 filter passes when it runs the kernel flow cache's program (kernel-form.ts), with a
 * warning naming what could not be verified; a veth with neither form fails.
 */
export async function checkAntispoof(veth: { name: string; index: number }, addresses: string[], mac: string | undefined,
  kernel?: KernelAntispoof, log: Log = silent): Promise<void> {
  const entry = kernel?.entry(veth.index);
  if (entry) {
    const problems = [];
    if (mac && entry.mac !== mac.toLowerCase()) problems.push(`kernel anti-spoofing entry has MAC ${entry.mac}, expected ${mac.toLowerCase()}`);
    if (!sameAddresses(entry.addresses, addresses)) problems.push(`kernel anti-spoofing entry has ${entry.addresses.join(', ') || 'no address'}, expected ${addresses.map((a) => a.split('/')[0]).join(', ')}`);
    if (!entry.attached) problems.push('the anti-spoofing program is not attached');
    if (problems.length) throw new CheckError(`${veth.name}: ${problems.join('; ')}`);
    return;
  }
  if (!kernel) {
    const filters = await ingressFilters(veth);
    if (!filters.some((f) => f.kind === 'u32')) {
      const k = await kernelFormSeen(veth.index, filters);
      if (!k) {
        throw new CheckError(`${veth.name}: no anti-spoofing: no u32 filter on its ingress, and no kernel flow cache program ` +
          `(no ${FAST_PATH_PROGRAM} cls_bpf filter, no pinned tcx link under ${bpffsRoot()}/podnet)`);
      }
      log.warn({ veth: veth.name, seen: k.seen, unverified: k.unverified },
        'CHECK without podnetd: anti-spoofing in the kernel flow cache form, program attached; its entry not verified');
      return;
    }
  }
  await checkU32Antispoof(veth.name, addresses, mac);
}

async function ingressFilters(veth: { name: string; index: number }): Promise<FilterStats[]> {
  const sock = openRtnl();
  try { return await dumpIngressFilters(sock, veth.index); } catch (e) {
    throw new CheckError(`tc filters of ${veth.name} cannot be read: ${(e as Error).message}`);
  } finally {
    closeRtnl(sock);
  }
}

async function checkU32Antispoof(veth: string, addresses: string[], mac: string | undefined): Promise<void> {
  let text: string;
  try { text = await tc(['filter', 'show', 'dev', veth, 'ingress']); } catch (e) {
    throw new CheckError(`anti-spoofing filters of ${veth} cannot be read: ${(e as Error).message}`);
  }
  const problems = diffInstalled(antispoofRules(podAddresses(addresses, mac)), parseFilterShow(text));
  if (problems.length) throw new CheckError(`${veth}: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`);
}
