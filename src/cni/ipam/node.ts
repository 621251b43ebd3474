// The node's pod CIDRs, for an IPAM config that names no subnet, and the pod MTU, for a network
// config that names none. podnetd writes them to /run/podnet/node.json ({"podCIDRs":
// ["10.244.1.0/24", "fd00:10:244:1::/64"], "mtu": 1450}) when it learns them (Node.spec.podCIDRs
// or its config; mtu only with VXLAN); PODNET_NODE_STATE points elsewhere (tests).
import { readFileSync } from 'node:fs';
import { ConfigError, IoError } from '../errors';
import { tryParseCidr, type Cidr } from '../../net/cidr';

export const NODE_STATE_PATH = '/run/podnet/node.json';

export function nodeStatePath(env: NodeJS.ProcessEnv = process.env): string {
  return env.PODNET_NODE_STATE || NODE_STATE_PATH;
}

/** The node's pod CIDRs in the order podnetd recorded them (one per family). */
export function nodePodCidrs(file = nodeStatePath()): Cidr[] {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) {
    throw new IoError(`ipam names no subnet and the node's pod CIDR is unknown (${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); is podnetd running?`, { cause: e });
  }
  let o: { podCIDRs?: unknown };
  try { o = JSON.parse(text); } catch (e) { throw new IoError(`${file} is not JSON: ${(e as Error).message}`, { cause: e }); }
  const list = Array.isArray(o.podCIDRs) ? o.podCIDRs : [];
  const out = list.map((s) => {
    const c = tryParseCidr(String(s), 'keep');
    if (!c) throw new ConfigError(`${file}:podCIDRs`, s, 'not a CIDR');
    return c;
  });
  if (out.length === 0) throw new IoError(`${file} lists no podCIDRs`);
  return out;
}

/** The pod MTU podnetd recorded (VXLAN), or undefined: no file, no mtu, or not a sane number. */
export function nodePodMtu(file = nodeStatePath()): number | undefined {
  try {
    const o = JSON.parse(readFileSync(file, 'utf8')) as { mtu?: unknown };
    return typeof o.mtu === 'number' && Number.isInteger(o.mtu) && o.mtu >= 68 && o.mtu <= 65535 ? o.mtu : undefined;
  } catch {
    return undefined;
  }
}
