// Raw IP sockets for the probes, over @neuralegion/raw-socket (the one module that loads it).
// A socket lives in the network namespace of the process that opens it: podnetd opens its
// probe sockets in the node's namespace, `podnetctl probe` in a child started inside the pod's
// (pod.ts, through src/netns/). Sends queue inside the library; each resolves once written.
// Every message the kernel copies to the socket (all of its protocol) comes to `onMessage`,
// already cut to the L4 message (packets.ts `received`); the caller picks its own.
import type * as RawSocketModule from '@neuralegion/raw-socket';
import type { Family } from '../net/ip';
import { received, type Received } from './packets';

type RawModule = typeof RawSocketModule;
let lib: RawModule | undefined;

/** Loaded on first use: podnetd with the probe off, and every other command, never load it. */
function raw(): RawModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  lib ??= require('@neuralegion/raw-socket') as RawModule;
  return lib;
}

/** A raw socket failed to open or send; `code` is stable. */
export class ProbeSocketError extends Error {
  readonly code = 'PROBE_SOCKET';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProbeSocketError';
  }
}

export class RawSocket {
  private readonly sock: RawSocketModule.Socket;
  private closed = false;

  /** Opens a raw socket of `family` for IP protocol `proto` (needs CAP_NET_RAW). */
  constructor(readonly family: Family, readonly proto: number, onMessage: (m: Received) => void) {
    const r = raw();
    try {
      this.sock = r.createSocket({ addressFamily: family === 4 ? r.AddressFamily.IPv4 : r.AddressFamily.IPv6, protocol: proto, bufferSize: 65536 });
    } catch (e) {
      throw new ProbeSocketError(`raw IPv${family} socket for protocol ${proto}: ${(e as Error).message}`, { cause: e });
    }
    this.sock.on('message', (buf: Buffer, source: string) => {
      const m = received(family, buf, source, proto);
      if (m) onMessage(m);
    });
    // The library closes the socket after an error; later sends fail and say so.
    this.sock.on('error', () => { this.closed = true; });
  }

  /** Sends an L4 message to `address`; the kernel writes the IP header. */
  send(l4: Buffer, address: string): Promise<void> {
    if (this.closed) return Promise.reject(new ProbeSocketError(`raw IPv${this.family} socket is closed`));
    return new Promise((resolve, reject) => {
      this.sock.send(l4, 0, l4.length, address, (err: Error | null) => {
        if (err) reject(new ProbeSocketError(`send to ${address}: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
  }
}
