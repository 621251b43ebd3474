// The engine's side of podnetd's datapath probe, through the test entry point (no root): an
// echo request to a probe address (defaults 169.254.42.2 and fd00:a9fe:2a::2, or the configured
// ones) is answered in place with valid checksums and counted as replies.probe_reply, and
// tracks nothing; other pings pass. The thread-pause test hook needs an attached TUN.
import t from 'tap';
import { Engine } from '../../src/engine';
import { decode, ip } from '../helpers/packets';

const NODE4 = '10.244.0.1';
const NODE6 = 'fd00:10:244::1';
const ping = (src: string, dst: string, seq = 1) => ip(src, dst, { proto: 'icmp', type: dst.includes(':') ? 128 : 8, code: 0, id: 0x4242, seq, payload: Buffer.from('podnet datapath probe') });

t.test('probe pings answered by the engine', async (t) => {
  const e = new Engine({ flowCapacity: 1024 });
  t.teardown(() => e.close());
  for (const [src, dst, replyType] of [[NODE4, '169.254.42.2', 0], [NODE6, 'fd00:a9fe:2a::2', 129]] as const) {
    const r = e.process(ping(src, dst, 7));
    t.equal(r.verdict, 'reply', `IPv${dst.includes(':') ? 6 : 4}: answered`);
    const d = decode(r.packet!);
    t.match(d, { src: dst, dst: src, icmpType: replyType, ipChecksumOk: true, l4ChecksumOk: true }, 'echo reply back to the node, checksums verify');
    t.equal(d.payload.toString(), 'podnet datapath probe', 'payload kept');
  }
  const st = e.stats();
  t.equal(st.replies.probe_reply, 2, 'counted as probe replies');
  t.equal(st.replies.echo_reply, 0, 'not as VIP echo replies');
  t.equal(st.flows.active, 0, 'nothing tracked');
  t.equal(e.process(ping(NODE4, '169.254.42.3')).verdict, 'forward', 'a neighbouring address passes');
});

t.test('configured probe addresses', async (t) => {
  const e = new Engine({ probeIPv4: '169.254.99.9', probeIPv6: 'fd00::99' });
  t.teardown(() => e.close());
  t.equal(e.process(ping(NODE4, '169.254.99.9')).verdict, 'reply', 'the configured IPv4 address');
  t.equal(e.process(ping(NODE6, 'fd00::99')).verdict, 'reply', 'the configured IPv6 address');
  t.equal(e.process(ping(NODE4, '169.254.42.2')).verdict, 'forward', 'the default one no longer');
  t.throws(() => new Engine({ probeIPv4: 'fd00::1' }), { code: 'ENGINE_BAD_OPTION' }, 'wrong family refused');
});

t.test('pauseThreadsForTest', async (t) => {
  const e = new Engine();
  t.teardown(() => e.close());
  t.equal(e.pauseThreadsForTest(100), false, 'no TUN, no threads to pause');
  t.throws(() => e.pauseThreadsForTest(-1), { code: 'ENGINE_BAD_SPEC' }, 'a negative pause is refused');
});
