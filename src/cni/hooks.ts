// What the host of the CNI plugin can lend it. The standalone plugin (bin/podnet) has nothing
// to lend; podnetd's CNI server (server.ts) passes hooks into the engine it runs, without the
// CNI code importing the engine: while podnetd's kernel flow cache is on, ADD writes the pod's
// anti-spoofing entry into the cache's BPF map and attaches its tc program to the host veth,
// synchronously, instead of installing the u32 filters (antispoof.ts); CHECK reads the entry
// back; DEL and GC drop it with the veth.
import type { BridgePod } from '../node/local-pods';
import type { Log } from './log';

/** A pod's anti-spoofing entry as the kernel holds it. */
export interface KernelAntispoofEntry {
  mac: string;
  addresses: string[];
  /** Whether the program runs on the veth. */
  attached: boolean;
}

/** The kernel flow cache's per-pod anti-spoofing (the same policy as the u32 filters). */
export interface KernelAntispoof {
  /** Writes the entry, then attaches the program to the veth. Idempotent; throws when it cannot. */
  install(pod: BridgePod): void;
  /** Deletes the entry, the pod's cached flows and the attachment. Idempotent. */
  remove(ifindex: number): void;
  /** The entry of the veth, undefined when it has none. */
  entry(ifindex: number): KernelAntispoofEntry | undefined;
}

export interface CniHooks {
  /** The kernel flow cache's anti-spoofing while it is on; undefined otherwise (u32 filters then). */
  kernelAntispoof?(): KernelAntispoof | undefined;
}

/**
 * DEL and GC, once the veth is deleted (its attachment went with it): the pod's kernel entry
 * goes now, whether or not podnetd's watch of the bridge sees the veth leave.
 */
export function dropKernelAntispoof(hooks: CniHooks, ifindex: number, veth: string, log: Log): void {
  const kernel = hooks.kernelAntispoof?.();
  if (!kernel) return;
  try { kernel.remove(ifindex); } catch (e) {
    log.warn({ err: (e as Error).message, veth, ifindex }, 'kernel anti-spoofing entry not removed');
  }
}
