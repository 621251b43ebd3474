// `podnetctl probe --from POD --to VIP:PORT [--proto tcp|udp] [--timeout ms]`: one crafted TCP
// SYN (or UDP datagram) sent from inside the pod's network namespace, through the pod's stack
// and podnet's data path, and what came back: SYN-ACK, RST, a UDP reply, an ICMP error
// (type/code), or nothing, with the time. The packet work is src/probe/pod.ts, run by a child
// started inside the pod's namespace through src/netns/ (nothing here enters a namespace).
//
// POD is found as:
//   /path             a namespace file (/proc/PID/ns/net, /var/run/netns/cni-...)
//   NAME              a named namespace (ip netns), e.g. a sandbox pod's
//   IP                the named namespace holding that address
//   [NAMESPACE/]NAME  a pod podnetd knows (as `podnetctl policies --pod` finds it: from its
//                     NetworkPolicy view of this node's pods), then the named namespace holding
//                     one of its addresses. Container runtimes name their pods' namespaces
//                     under /var/run/netns (CRI: cni-<uuid>), so the address finds them.
// Exit 0 when something came back, 1 when nothing did (or podnetd / the pod could not be found).
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { canonicalIp, parseIp } from '../net/ip';
import { NetnsExecError, run } from '../netns/exec';
import type { PodProbeQuery, PodProbeResult } from '../probe/pod';
import { CtlError, type ControlClient } from './client';

const NETNS_DIRS = ['/run/netns', '/var/run/netns'];

export interface ProbeArgs { from: string; to: string; port: number; proto: 'tcp' | 'udp'; timeoutMs: number }

/** The named namespaces of this machine. */
function namedNamespaces(): string[] {
  const names = new Set<string>();
  for (const d of NETNS_DIRS) {
    try { for (const n of readdirSync(d)) names.add(n); } catch { /* no such dir */ }
  }
  return [...names].sort();
}

/** The named namespace with one of `ips` on an interface (asked inside each through netns/). */
async function namespaceHolding(ips: string[]): Promise<string | undefined> {
  const want = new Set(ips.map(canonicalIp));
  for (const ns of namedNamespaces()) {
    let out: string;
    try { out = (await run(ns, ['ip', '-j', 'address', 'show'], { timeoutMs: 5000 })).stdout; } catch { continue; }
    const links = JSON.parse(out || '[]') as { addr_info?: { local?: string }[] }[];
    if (links.some((l) => (l.addr_info ?? []).some((a) => a.local && want.has(canonicalIp(a.local))))) return ns;
  }
  return undefined;
}

/** POD → the namespace to run in (a name or a path) and how it was found. */
export async function resolvePod(pod: string, client: ControlClient): Promise<{ ns: string; how: string }> {
  if (pod.startsWith('/')) {
    if (!existsSync(pod)) throw new CtlError('CTL_NO_POD', `no namespace file ${pod}`);
    return { ns: pod, how: 'namespace file' };
  }
  if (namedNamespaces().includes(pod)) return { ns: pod, how: 'named namespace' };
  let ips: string[];
  if (parseIp(pod)) {
    ips = [pod];
  } else {
    const r = await client.policies(pod);
    const match = r.pods.filter((p) => p.name === pod || p.name.split('/')[1] === pod);
    if (match.length !== 1) {
      const why = match.length > 1 ? `more than one pod is called ${pod} (say NAMESPACE/NAME)` : r.note ?? `podnetd knows no pod ${pod} on this node`;
      throw new CtlError('CTL_NO_POD', `${why}; give a namespace name, a namespace file or the pod's IP`);
    }
    ips = match[0].ips;
  }
  const ns = await namespaceHolding(ips);
  if (!ns) throw new CtlError('CTL_NO_POD', `no named network namespace holds ${ips.join(', ')} (give the namespace file: --from /proc/PID/ns/net)`);
  return { ns, how: `holds ${ips.join(', ')}` };
}

/** Runs the probe inside `ns` (a child through netns/) and returns its result. */
export async function probeInNamespace(ns: string, q: PodProbeQuery): Promise<PodProbeResult> {
  const child = path.join(__dirname, '../probe/pod-main.js');
  try {
    const { stdout } = await run(ns, [process.execPath, child, JSON.stringify(q)], { timeoutMs: q.timeoutMs + 10_000 });
    return JSON.parse(stdout.trim().split('\n').pop() ?? '') as PodProbeResult;
  } catch (e) {
    if (e instanceof NetnsExecError) throw new CtlError('CTL_PROBE_FAILED', `probe in ${ns}: ${e.stderr.trim() || e.message}`, { cause: e });
    throw e;
  }
}

const hostPort = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/** The human form: the probe as sent, then what came back. */
export function formatProbe(r: PodProbeResult, from: string): string {
  const s = r.sent;
  const head = `probe ${s.proto} ${hostPort(s.src, s.sport)} → ${hostPort(s.dst, s.dport)} from ${from}`;
  const a = r.answer;
  if (!a) return `${head}\nnothing came back within ${r.ms} ms`;
  const took = `in ${r.ms} ms`;
  switch (a.kind) {
    case 'syn-ack': return `${head}\nSYN-ACK from ${a.from} ${took} (${a.flags}): the port accepts connections` +
      ' (the pod\'s kernel, which opened no connection, answers it with a RST)';
    case 'rst': return `${head}\nRST from ${a.from} ${took} (${a.flags}): connection refused`;
    case 'udp': return `${head}\nUDP reply from ${a.from} ${took}, ${a.bytes} bytes`;
    case 'icmp': return `${head}\nICMP ${a.text} (type ${a.type} code ${a.code}) from ${a.from} ${took}`;
  }
}

/** `podnetctl probe`: resolves the pod, probes from inside it, prints; the exit code. */
export async function probeCommand(args: ProbeArgs, client: ControlClient, json: boolean, out: (s: string) => void): Promise<number> {
  if (!parseIp(args.to)) throw new CtlError('CTL_BAD_ARGUMENT', `--to: not an IP address: ${args.to}`);
  const { ns } = await resolvePod(args.from, client);
  const r = await probeInNamespace(ns, { to: canonicalIp(args.to), port: args.port, proto: args.proto, timeoutMs: args.timeoutMs });
  out(json ? JSON.stringify({ from: args.from, netns: ns, ...r }, null, 2) : formatProbe(r, ns === args.from ? ns : `${args.from} (netns ${ns})`));
  return r.answer ? 0 : 1;
}
