// podnetctl (bin/podnetctl): the operator's view of one node's podnetd, over its control socket.
//   podnetctl [--socket PATH] [--json] status | services | flows [filters] | trace --from IP --to IP:PORT --proto tcp|udp
//             | policies [--pod NAME|IP] | cluster | probe --from POD --to IP:PORT [--proto tcp|udp] [--timeout MS]
//             | monitor [--type drop|flow|sync] [--pod P] [--service S] [--reason R] [--count N] [--duration S]
//   podnetctl sandbox up|down|exec|status ...   (src/ctl/sandbox.ts)
// Exit codes: 0 ok (and --help), 1 podnetd unreachable or answered an error (probe: nothing came back), 2 usage.
import { CtlError, ControlClient, DEFAULT_SOCKET } from './client';
import { formatCluster, formatFlows, formatServices, formatStatus, formatTrace } from './format';
import { formatPolicies } from './policies';

export const USAGE = `usage: podnetctl [--socket PATH] [--json] COMMAND
  status                                   engine, queues, sync state, counts
  services                                 each VIP:port/proto → backends, weights, counters
  flows [--vip IP[:PORT]] [--client IP[:PORT]] [--backend IP[:PORT]] [--proto tcp|udp] [--limit N]
  trace --from IP --to IP:PORT [--proto tcp|udp] [--sport PORT]
                                           what the engine would do with such a connection (nothing is sent)
  policies [--pod NAME|NAMESPACE/NAME|IP]  per pod on this node: the NetworkPolicies isolating its ingress/egress
                                           and the rules that allow traffic; flows allowed/denied per policy
  cluster                                  cross-node routing: each node, its pod CIDRs, what is programmed for it
  probe --from POD --to IP:PORT [--proto tcp|udp] [--timeout MS]
                                           send one real SYN (or UDP datagram) from inside the pod and show what
                                           came back: SYN-ACK, RST, ICMP type/code or nothing (exit 1), with the time.
                                           POD: NAMESPACE/NAME, NAME, the pod's IP, a named netns or a netns file
  monitor [--type drop|flow|sync[,...]] [--pod NAME|IP] [--service NAME|VIP] [--reason REASON]
          [--count N] [--duration SEC]
                                           live events until Ctrl-C: drops (reason, packet, denying policies),
                                           new flows (service port, backend, SNAT, cached), ended flows, table
                                           syncs; --json: one JSON object per line
  sandbox up [--name NAME] [--pods N] [--veth]
                                           a virtual node in network namespaces running podnetd;
                                           pods through the podnet CNI plugin (--veth: by hand)
  sandbox status|down [--name NAME]
  sandbox exec [--name NAME] POD|node -- CMD...
  install-cni [--bin-dir DIR] [--conf-dir DIR] [--force]
                                           copy the podnet CNI plugin to /opt/cni/bin and a default conflist to /etc/cni/net.d
--socket defaults to $PODNET_SOCKET or ${DEFAULT_SOCKET}; --json prints the control API's JSON (src/ctl/api.ts).`;

class UsageError extends Error {}
/** -h / --help: the usage text on stdout, exit 0. */
class HelpRequested extends Error {}
/** `probe` saw nothing come back: exit 1, the output already says so. */
class NothingBack extends Error {}

interface Parsed { socket: string; json: boolean; command: string; opts: Map<string, string>; rest: string[] }

/** Global flags anywhere before `--`; command options as --key value. */
export function parse(argv: string[]): Parsed {
  const p: Parsed = { socket: process.env.PODNET_SOCKET ?? DEFAULT_SOCKET, json: false, command: '', opts: new Map(), rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { p.rest.push(...argv.slice(i + 1)); break; }
    if (a === '--json') p.json = true;
    else if (a === '--socket') p.socket = argv[++i] ?? '';
    else if (a.startsWith('--socket=')) p.socket = a.slice(9);
    else if (a === '-h' || a === '--help') throw new HelpRequested(USAGE);
    else if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const k = eq > 0 ? a.slice(2, eq) : a.slice(2);
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`--${k} needs a value`);
      p.opts.set(k, v);
    } else if (!p.command) p.command = a;
    else p.rest.push(a);
  }
  if (!p.socket) throw new UsageError('--socket needs a path');
  return p;
}

function splitHostPort(s: string): { host: string; port: number } {
  const m = /^\[(.+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) throw new UsageError(`--to must be IP:PORT (IPv6: [IP]:PORT), got ${JSON.stringify(s)}`);
  return { host: m[1], port: Number(m[2]) };
}

function proto(v: string | undefined): 'TCP' | 'UDP' {
  const x = (v ?? 'tcp').toUpperCase();
  if (x !== 'TCP' && x !== 'UDP') throw new UsageError(`--proto must be tcp or udp, got ${v}`);
  return x;
}

function allowed(p: Parsed, keys: string[]): void {
  for (const k of p.opts.keys()) if (!keys.includes(k)) throw new UsageError(`${p.command}: unknown option --${k}`);
}

async function runCommand(p: Parsed, out: (s: string) => void): Promise<void> {
  const c = new ControlClient(p.socket);
  const print = <T>(reply: T, human: (r: T) => string) => out(p.json ? JSON.stringify(reply, null, 2) : human(reply));
  switch (p.command) {
    case 'status': allowed(p, []); print(await c.status(), formatStatus); return;
    case 'services': allowed(p, []); print(await c.services(), formatServices); return;
    case 'flows': {
      allowed(p, ['vip', 'client', 'backend', 'proto', 'limit']);
      const limit = p.opts.has('limit') ? Number(p.opts.get('limit')) : undefined;
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new UsageError('--limit must be a positive integer');
      print(await c.flows({
        vip: p.opts.get('vip'), client: p.opts.get('client'), backend: p.opts.get('backend'),
        protocol: p.opts.has('proto') ? proto(p.opts.get('proto')) : undefined, limit,
      }), formatFlows);
      return;
    }
    case 'cluster': allowed(p, []); print(await c.cluster(), formatCluster); return;
    case 'policies': allowed(p, ['pod']); print(await c.policies(p.opts.get('pod')), formatPolicies); return;
    case 'trace': {
      allowed(p, ['from', 'to', 'proto', 'sport']);
      const from = p.opts.get('from');
      const to = p.opts.get('to');
      if (!from || !to) throw new UsageError('trace needs --from IP and --to IP:PORT');
      const { host, port } = splitHostPort(to);
      const sport = p.opts.has('sport') ? Number(p.opts.get('sport')) : undefined;
      print(await c.trace({ from, to: host, port, protocol: proto(p.opts.get('proto')), ...(sport ? { sourcePort: sport } : {}) }), formatTrace);
      return;
    }
    case 'probe': {
      allowed(p, ['from', 'to', 'proto', 'timeout']);
      const from = p.opts.get('from');
      const to = p.opts.get('to');
      if (!from || !to) throw new UsageError('probe needs --from POD and --to IP:PORT');
      const { host, port } = splitHostPort(to);
      const timeoutMs = Number(p.opts.get('timeout') ?? 1000);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) throw new UsageError('--timeout must be 1-60000 ms');
      if (port < 1 || port > 65535) throw new UsageError('--to: port must be 1-65535');
      const { probeCommand } = await import('./probe');
      const code = await probeCommand({ from, to: host, port, proto: proto(p.opts.get('proto')).toLowerCase() as 'tcp' | 'udp', timeoutMs }, c, p.json, out);
      if (code !== 0) throw new NothingBack();
      return;
    }
    case 'monitor': {
      allowed(p, ['type', 'pod', 'service', 'reason', 'count', 'duration']);
      const count = p.opts.has('count') ? Number(p.opts.get('count')) : undefined;
      if (count !== undefined && (!Number.isInteger(count) || count < 1)) throw new UsageError('--count must be a positive integer');
      const durationSec = p.opts.has('duration') ? Number(p.opts.get('duration')) : undefined;
      if (durationSec !== undefined && !(durationSec > 0)) throw new UsageError('--duration must be a positive number of seconds');
      const { monitorCommand } = await import('./monitor');
      await monitorCommand(c, {
        type: p.opts.get('type'), pod: p.opts.get('pod'), service: p.opts.get('service'), reason: p.opts.get('reason'), count, durationSec, json: p.json,
      }, out, (s) => process.stderr.write(`${s}\n`));
      return;
    }
    case '': throw new UsageError(USAGE);
    default: throw new UsageError(`unknown command ${p.command}\n${USAGE}`);
  }
}

export async function main(argv = process.argv.slice(2)): Promise<number> {
  const out = (s: string) => process.stdout.write(`${s}\n`);
  try {
    if (argv.includes('sandbox') && argv.indexOf('sandbox') < (argv.indexOf('--') < 0 ? argv.length : argv.indexOf('--'))) {
      // Loaded only for `sandbox`: the sandbox pulls in far more than the read-only commands need.
      const { sandboxCommand } = await import('./sandbox');
      return await sandboxCommand(argv.filter((a, i) => !(a === 'sandbox' && i === argv.indexOf('sandbox'))), out);
    }
    if (argv[0] === 'install-cni') {
      const { installCniCommand } = await import('./install-cni');
      return await installCniCommand(argv.slice(1), out);
    }
    await runCommand(parse(argv), out);
    return 0;
  } catch (e) {
    if (e instanceof HelpRequested) { out(e.message); return 0; }
    if (e instanceof UsageError) { process.stderr.write(`${e.message}\n`); return 2; }
    if (e instanceof NothingBack) return 1;
    if (e instanceof CtlError) { process.stderr.write(`podnetctl: ${e.message} [${e.code}]\n`); return 1; }
    process.stderr.write(`podnetctl: ${(e as Error).stack ?? e}\n`);
    return 1;
  }
}

export { UsageError };
