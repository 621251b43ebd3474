// Thin helpers over the `netlink` package's rtnetlink socket: link lookup and the error
// classification netlink 0.3.0 lacks (its errors are plain `Error("Request rejected: EEXIST")`).
import { createRtNetlink, FlagsNew, type RtNetlinkSocket } from 'netlink';
import { NodeWiringError } from './errors';

export type Rtnl = RtNetlinkSocket;

/** Opens an rtnetlink socket bound to the netns this thread is in right now. */
export function openRtnl(): Rtnl {
  return createRtNetlink();
}

export function closeRtnl(sock: Rtnl): void {
  sock.socket.close();
}

/** NLM_F_CREATE|NLM_F_EXCL: "add, fail if present" (then treat EEXIST as success). */
export const CREATE_EXCL = FlagsNew.CREATE | FlagsNew.EXCL;
/** NLM_F_CREATE|NLM_F_REPLACE: "add or overwrite" (idempotent routes). */
export const CREATE_REPLACE = FlagsNew.CREATE | FlagsNew.REPLACE;

function errno(err: unknown): string {
  const m = /Request rejected: (\w+)/.exec(err instanceof Error ? err.message : String(err));
  return m ? m[1] : '';
}

export function isExists(err: unknown): boolean {
  return errno(err) === 'EEXIST';
}

/** The thing to delete was not there (link, address, route, rule, neighbour). */
export function isAbsent(err: unknown): boolean {
  return ['ENOENT', 'ESRCH', 'ENODEV', 'EADDRNOTAVAIL', 'ENXIO'].includes(errno(err));
}

/** Runs a create; "already exists" is success. */
export async function ignoreExists(p: Promise<unknown>): Promise<void> {
  try { await p; } catch (e) { if (!isExists(e)) throw wrap(e); }
}

/** Runs a delete; "not there" is success. */
export async function ignoreAbsent(p: Promise<unknown>): Promise<void> {
  try { await p; } catch (e) { if (!isAbsent(e)) throw wrap(e); }
}

export function wrap(e: unknown, what?: string): NodeWiringError {
  if (e instanceof NodeWiringError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new NodeWiringError('NODE_NETLINK', what ? `${what}: ${msg}` : msg, { cause: e });
}

/** ifindex of a link by name, or undefined when absent. */
export async function linkIndex(sock: Rtnl, name: string): Promise<number | undefined> {
  try {
    const [msg] = await sock.getLink({}, { ifname: name });
    return msg?.data.index;
  } catch (e) {
    if (isAbsent(e)) return undefined;
    throw wrap(e, `get link ${name}`);
  }
}

export async function requireLinkIndex(sock: Rtnl, name: string): Promise<number> {
  const idx = await linkIndex(sock, name);
  if (idx === undefined) throw new NodeWiringError('NODE_LINK_MISSING', `link ${name} does not exist`);
  return idx;
}

export async function setLinkUp(sock: Rtnl, index: number): Promise<void> {
  try {
    await sock.setLink({ index, change: { up: true }, flags: { up: true } });
  } catch (e) { throw wrap(e, `set link ${index} up`); }
}

/** One netlink attribute (type + payload), padded to 4 bytes: for hand-built nested attributes. */
export { nlattr } from './nlattr';
