// The CNI side of anti-spoofing (config `antiSpoofing`, default true): at ADD, the pod's host
// veth gets the u32 filters of src/node/antispoof.ts on a clsact ingress, over the rtnetlink
// socket ADD already holds (netlink/tc.ts; no exec); CHECK reads them back with `tc filter show` (the
// reader is shared with podnetd's counters). DEL has nothing to do:
// the qdisc and its filters go with the veth. Runs in the plugin's own namespace (the node's),
// like the rest of ADD; in podnetd's CNI server the same code runs inside the daemon.
import { spawn } from 'node:child_process';
import { antispoofRules, diffInstalled, parseFilterShow, type PodAddresses } from '../node/antispoof';
import { DROP_DEV, DROP_PEER } from '../node/drop-sink';
import { CheckError, IoError } from './errors';
import { ensureDownVeth } from '../netlink/link';
import type { Rtnl } from '../netlink/socket';
import { installU32, removeClsact } from '../netlink/tc';

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

/** ADD step: the sink, then clsact + every filter on the veth, over rtnetlink (netlink/tc.ts). */
export async function installAntispoof(sock: Rtnl, veth: { index: number }, addresses: string[], mac: string): Promise<void> {
  let rules;
  try { rules = antispoofRules(podAddresses(addresses, mac)); } catch (e) {
    // An address the rules cannot express (e.g. more than 10 of a family from a delegated IPAM).
    throw new IoError(`anti-spoofing: ${(e as Error).message}`, { cause: e });
  }
  await installU32(sock, veth.index, rules, await ensureDownVeth(sock, DROP_DEV, DROP_PEER));
}

/** Undo of the ADD step (the veth's own undo removes it too; this covers a veth that stays). */
export async function removeAntispoof(sock: Rtnl, veth: { index: number }): Promise<void> {
  await removeClsact(sock, veth.index);
}

/** CHECK: every filter the pod's addresses call for is on `veth`, matching and acting as built. */
export async function checkAntispoof(veth: string, addresses: string[], mac: string | undefined): Promise<void> {
  let text: string;
  try { text = await tc(['filter', 'show', 'dev', veth, 'ingress']); } catch (e) {
    throw new CheckError(`anti-spoofing filters of ${veth} cannot be read: ${(e as Error).message}`);
  }
  const problems = diffInstalled(antispoofRules(podAddresses(addresses, mac)), parseFilterShow(text));
  if (problems.length) throw new CheckError(`${veth}: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`);
}
