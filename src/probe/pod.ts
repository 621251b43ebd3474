// `podnetctl probe`'s packet, sent from inside a pod: one crafted TCP SYN (or UDP datagram)
// to VIP:PORT through the pod's own stack and podnet's data path, and the first thing that
// comes back: a SYN-ACK, a RST, a UDP reply, an ICMP error (type/code), or nothing within the
// timeout, with the time it took. Runs in whatever network namespace this process is in;
// podnetctl starts it inside the pod's through src/netns/ (pod-main.ts is that child's entry).
//
// The SYN does not come from a socket, so the pod's kernel knows no connection: it answers the
// SYN-ACK with a RST of its own. That RST is harmless (the backend drops its half-open
// connection, the engine sees the flow close) and is the price of seeing the raw answer.
// Likewise a UDP reply meets a closed port and earns an ICMP port unreachable from the pod.
import dgram from 'node:dgram';
import { familyOf, type Family } from '../net/ip';
import { answerTo, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, tcpSyn, udpDatagram, type Answer, type ProbeTuple } from './packets';
import { RawSocket } from './raw';

export interface PodProbeQuery {
  to: string;
  port: number;
  proto: 'tcp' | 'udp';
  timeoutMs: number;
  /** Source port; default a random one in 40000-59999. */
  sourcePort?: number;
}

export interface PodProbeResult {
  /** The probe as sent: the pod's address (the kernel's choice towards `to`) and ports. */
  sent: ProbeTuple;
  /** What came back first; undefined when nothing did within the timeout. */
  answer?: Answer;
  /** ms from the send to the answer (or to the timeout). */
  ms: number;
}

/** The source address the kernel picks towards `to`: a connected UDP socket's own address (nothing is sent). */
export function sourceAddressTowards(to: string, port: number): Promise<string> {
  const s = dgram.createSocket(familyOf(to) === 4 ? 'udp4' : 'udp6');
  return new Promise<string>((resolve, reject) => {
    s.once('error', reject);
    s.connect(port, to, () => resolve(s.address().address));
  }).finally(() => s.close());
}

/** Sends the probe from this namespace and waits for its answer. */
export async function probeFromHere(q: PodProbeQuery): Promise<PodProbeResult> {
  const family: Family = familyOf(q.to);
  const src = await sourceAddressTowards(q.to, q.port);
  const sent: ProbeTuple = { proto: q.proto, src, sport: q.sourcePort ?? 40000 + Math.floor(Math.random() * 20000), dst: q.to, dport: q.port };
  const l4proto = q.proto === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
  let sentAt = 0;
  let settle: (a: Answer | undefined) => void = () => undefined;
  const answered = new Promise<Answer | undefined>((resolve) => { settle = resolve; });
  const onMessage = (m: Parameters<typeof answerTo>[1]) => {
    const a = answerTo(sent, m);
    if (a) settle(a);
  };
  const sockets = [new RawSocket(family, l4proto, onMessage)];
  try {
    sockets.push(new RawSocket(family, family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, onMessage));
    const l4 = q.proto === 'tcp' ? tcpSyn(sent, Math.floor(Math.random() * 0xffffffff)) : udpDatagram(sent, Buffer.from('podnet probe\n'));
    sentAt = performance.now();
    await sockets[0].send(l4, q.to);
    const timer = setTimeout(() => settle(undefined), q.timeoutMs);
    const answer = await answered;
    clearTimeout(timer);
    return { sent, ...(answer ? { answer } : {}), ms: +(performance.now() - sentAt).toFixed(3) };
  } finally {
    for (const s of sockets) s.close();
  }
}
