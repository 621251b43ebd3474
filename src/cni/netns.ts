// The one place where the plugin works inside the container's network namespace. Node cannot
// setns(2) and the `netlink` package cannot either, so instead of switching this thread we start
// one short child already in the namespace: `nsenter --net=CNI_NETNS ip -batch -` (~5 ms, one
// exec for every address and route). Reads (CHECK) use `ip -j` the same way. Nothing else in
// podnet's CNI code enters a namespace: the veth peer is created in place by src/netlink/link.ts createVeth.
import { spawn } from 'node:child_process';
import { NetlinkError } from './errors';

/** Asynchronous on purpose: in podnetd's CNI server a blocking spawn would stall the loop. */
function inNetns(netns: string, argv: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=${netns}`, ...argv], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
    let out = ''; let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.on('error', (e) => reject(new NetlinkError(`nsenter ${argv[0]}`, e)));
    child.on('close', (status) => {
      if (status === 0) resolve(out);
      else reject(new NetlinkError(`in netns ${netns}: ${argv.join(' ')}`, new Error((err || `exit ${status}`).trim())));
    });
    child.stdin.on('error', () => { /* exited early: the status says why */ });
    child.stdin.end(input ?? '');
  });
}

export interface ContainerSetup {
  ifname: string;
  /** "10.244.1.5/24", "fd00::5/64" */
  addresses: string[];
  routes: { dst: string; gw?: string }[];
}

/**
 * The pod ignores ICMPv6 redirects on its interface. Pod-to-pod traffic is routed by the node
 * out of the bridge it came in by, so the node's IPv6 forwarding sends the sender a redirect
 * naming the other pod's own MAC (IPv6 has no send_redirects switch; IPv4's is off on the
 * bridge). A pod that took it would send straight to that MAC, which the bridge's isolated
 * ports drop: the connection hangs until the neighbour entry expires. A kernel without IPv6
 * has no such file; nothing to do then.
 */
const NO_REDIRECTS = 'f=/proc/sys/net/ipv6/conf/"$1"/accept_redirects; if [ -e "$f" ]; then printf 0 > "$f" || exit 1; fi; exec ip -batch -';

/** lo up, the interface's addresses (IPv6 without DAD, usable at once) and routes, in one exec. */
export async function configureContainer(netns: string, s: ContainerSetup): Promise<void> {
  const lines = ['link set lo up', `link set dev ${s.ifname} up`];
  for (const a of s.addresses) lines.push(`address add ${a} dev ${s.ifname}${a.includes(':') ? ' nodad' : ''}`);
  for (const r of s.routes) lines.push(`route add ${r.dst}${r.gw ? ` via ${r.gw}` : ''} dev ${s.ifname}`);
  await inNetns(netns, ['sh', '-c', NO_REDIRECTS, 'sh', s.ifname], lines.join('\n') + '\n');
}

export interface ContainerState {
  mac?: string;
  mtu?: number;
  up: boolean;
  addresses: string[];
  routes: { dst: string; gw?: string }[];
}

interface IpJsonAddr { ifname?: string; address?: string; mtu?: number; operstate?: string; flags?: string[]; addr_info?: { family: string; local: string; prefixlen: number; scope: string }[] }
interface IpJsonRoute { dst: string; gateway?: string; dev?: string }

/** The interface as the kernel sees it inside the netns; undefined when it does not exist. */
export async function inspectContainer(netns: string, ifname: string): Promise<ContainerState | undefined> {
  let links: IpJsonAddr[];
  try { links = JSON.parse((await inNetns(netns, ['ip', '-j', 'address', 'show', 'dev', ifname])) || '[]'); } catch (e) {
    if (e instanceof NetlinkError && /does not exist|Cannot find device/.test(e.message)) return undefined;
    throw e;
  }
  const l = links[0];
  if (!l) return undefined;
  const routes: { dst: string; gw?: string }[] = [];
  for (const fam of ['-4', '-6']) {
    const list: IpJsonRoute[] = JSON.parse((await inNetns(netns, ['ip', '-j', fam, 'route', 'show', 'dev', ifname])) || '[]');
    for (const r of list) routes.push({ dst: r.dst === 'default' ? (fam === '-4' ? '0.0.0.0/0' : '::/0') : r.dst, gw: r.gateway });
  }
  return {
    mac: l.address,
    mtu: l.mtu,
    up: (l.flags ?? []).includes('UP'),
    addresses: (l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`),
    routes,
  };
}
