// The rtnetlink socket every kernel-facing step shares (podnetd's node wiring, the CNI plugin),
// the request flags, and the error classification the `netlink` package lacks (its errors are
// plain `Error("Request rejected: EEXIST")`). Only the rtnetlink part of the package is loaded:
// its index also pulls in nl80211, wg and genl (~25 ms at every CNI ADD).
import { FlagsNew } from 'netlink/dist/constants';
import { createRtNetlink, type RtNetlinkSocket } from 'netlink/dist/rt/rt';
import { NetlinkError } from './errors';

export { NetlinkError, type NetlinkCode } from './errors';

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
/** NLM_F_CREATE|NLM_F_REPLACE: "add or overwrite" (idempotent routes and neighbours). */
export const CREATE_REPLACE = FlagsNew.CREATE | FlagsNew.REPLACE;

/** The errno name of a rejected request ("EEXIST"), or "". */
export function errnoOf(err: unknown): string {
  const m = /Request rejected: (\w+)/.exec(err instanceof Error ? err.message : String(err));
  return m ? m[1] : '';
}

export function isExists(err: unknown): boolean {
  return errnoOf(err) === 'EEXIST';
}

/** The thing to delete was not there (link, address, route, rule, neighbour). */
export function isAbsent(err: unknown): boolean {
  return ['ENOENT', 'ESRCH', 'ENODEV', 'EADDRNOTAVAIL', 'ENXIO'].includes(errnoOf(err));
}

/** `e` as a NetlinkError saying what was being done (one already wrapped is kept as it is). */
export function wrap(e: unknown, what?: string): NetlinkError {
  if (e instanceof NetlinkError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new NetlinkError('NETLINK_FAILED', what ? `${what}: ${msg}` : msg, { cause: e });
}

/** Runs a create; "already exists" is success. */
export async function ignoreExists(p: Promise<unknown>, what?: string): Promise<void> {
  try { await p; } catch (e) { if (!isExists(e)) throw wrap(e, what); }
}

/** Runs a delete; "not there" is success. */
export async function ignoreAbsent(p: Promise<unknown>, what?: string): Promise<void> {
  try { await p; } catch (e) { if (!isAbsent(e)) throw wrap(e, what); }
}

/** Runs a request; any failure becomes a NetlinkError saying `what`. */
export async function request<T>(p: Promise<T>, what: string): Promise<T> {
  try { return await p; } catch (e) { throw wrap(e, what); }
}
