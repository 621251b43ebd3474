// Upstream conformance, as pure compile tests: the Kubernetes e2e "NetworkPolicy" cases
// (test/e2e/network/netpol/network_policy.go, named by their It() titles) and cyclonus-style truth
// tables, on the x/y/z × a/b/c cluster. Each case compiles real API objects, evaluates every
// pod pair with the reference evaluator (fixtures/evaluate.ts) and compares the whole matrix.
import t from 'tap';
import { type ClusterEdit, compileCluster, HOST, observe, podIPs, Reachability } from './fixtures/cluster';
import { allowed, tableProblems } from './fixtures/evaluate';
import { netpol } from '../helpers/kube-objects';

type Proto = 'TCP' | 'UDP' | 'SCTP';
interface Probe { port: number; protocol?: Proto; expect: Reachability }
/** A flow outside the pod matrix: [src, dst, protocol, port, allowed]. */
type ExtraFlow = [string, string, Proto, number, boolean];
interface Step { policies: object[]; edit?: ClusterEdit; probes: Probe[]; flows?: ExtraFlow[] }
interface Case { name: string; steps: Step[] }

const pod = (p: string) => ({ matchLabels: { pod: p } });
const ns = (n: string) => ({ matchLabels: { ns: n } });
const all = {};
const R = (dflt = true) => new Reachability(dflt);
const tcp = (port: number, expect: Reachability): Probe => ({ port, protocol: 'TCP', expect });
const one = (name: string, policies: object[], probes: Probe[], flows?: ExtraFlow[]): Case => ({ name, steps: [{ policies, probes, flows }] });
const XA = podIPs('x/a')[0];
const YB = podIPs('y/b')[0];
const EXTERNAL = '203.0.113.9';

const cases: Case[] = [
  one("should support a 'default-deny-ingress' policy",
    [netpol('x', 'deny-ingress', { podSelector: all, policyTypes: ['Ingress'] })],
    [tcp(80, R().expectPeer('', 'x', false))],
    [[HOST, XA, 'TCP', 80, true], [EXTERNAL, XA, 'TCP', 80, false], [XA, EXTERNAL, 'TCP', 443, true]]),
  one("should support a 'default-deny-all' policy",
    [netpol('x', 'deny-all', { podSelector: all, policyTypes: ['Ingress', 'Egress'] })],
    [tcp(80, R().expectPeer('', 'x', false).expectPeer('x', '', false)), { port: 53, protocol: 'UDP', expect: R().expectPeer('', 'x', false).expectPeer('x', '', false) }],
    [[XA, HOST, 'TCP', 10250, true], [HOST, XA, 'TCP', 8080, true], [XA, EXTERNAL, 'TCP', 443, false]]),
  one('should enforce policy to allow traffic from pods within server namespace based on PodSelector',
    [netpol('x', 'x-a-allows-x-b', { podSelector: pod('a'), ingress: [{ from: [{ podSelector: pod('b') }] }] })],
    [tcp(80, R().expectPeer('', 'x/a', false).expectPeer('x/b', 'x/a', true))]),
  one('should enforce policy to allow ingress traffic for a target',
    [netpol('x', 'deny-ingress', { podSelector: all, policyTypes: ['Ingress'] }),
      netpol('x', 'allow-all-to-a', { podSelector: pod('a'), ingress: [{}] })],
    [tcp(80, R().expectPeer('', 'x', false).expectPeer('', 'x/a', true))]),
  one('should enforce policy to allow ingress traffic from pods in all namespaces',
    [netpol('x', 'allow-from-all-ns', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: all }] }] })],
    [tcp(80, R())],
    [[EXTERNAL, XA, 'TCP', 80, false], [HOST, XA, 'TCP', 80, true]]),
  one('should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector',
    [netpol('x', 'allow-ns-y', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: ns('y') }] }] })],
    [tcp(80, R().expectPeer('', 'x/a', false).expectPeer('y', 'x/a', true))]),
  one('should enforce policy based on PodSelector with MatchExpressions',
    [netpol('x', 'expr', { podSelector: pod('a'), ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b'] }] } }] }] })],
    [tcp(80, R().expectPeer('', 'x/a', false).expectPeer('x/b', 'x/a', true))]),
  one('should enforce policy based on NamespaceSelector with MatchExpressions',
    [netpol('x', 'expr', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'In', values: ['y'] }] } }] }] })],
    [tcp(80, R().expectPeer('', 'x/a', false).expectPeer('y', 'x/a', true))]),
  one('should enforce policy based on PodSelector or NamespaceSelector',
    [netpol('x', 'or', { podSelector: pod('a'), ingress: [{ from: [
      { namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['x'] }] } },
      { podSelector: pod('b') }] }] })],
    [tcp(80, R().expectPeer('x', 'x/a', false).expectPeer('x/b', 'x/a', true))]),
  one('should enforce policy based on PodSelector and NamespaceSelector',
    [netpol('x', 'and', { podSelector: pod('a'), ingress: [{ from: [{
      namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['x'] }] },
      podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b', 'c'] }] } }] }] })],
    [tcp(80, R().expectPeer('', 'x/a', false).expectPeer('y/b', 'x/a', true).expectPeer('y/c', 'x/a', true).expectPeer('z/b', 'x/a', true).expectPeer('z/c', 'x/a', true))]),
  one('should enforce policy based on Multiple PodSelectors and NamespaceSelectors',
    [netpol('x', 'multi', { podSelector: pod('a'), ingress: [{ from: [{
      namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['x'] }] },
      podSelector: { matchExpressions: [{ key: 'pod', operator: 'NotIn', values: ['a'] }] } }] }] })],
    [tcp(80, R().expectPeer('', 'x/a', false).expectPeer('y/b', 'x/a', true).expectPeer('y/c', 'x/a', true).expectPeer('z/b', 'x/a', true).expectPeer('z/c', 'x/a', true))]),
  one('should enforce policy based on any PodSelectors',
    [netpol('x', 'any', { podSelector: pod('a'), ingress: [{ from: [{ podSelector: pod('b') }, { podSelector: pod('c') }] }] })],
    [tcp(80, R().expectPeer('', 'x/a', false).expectPeer('x/b', 'x/a', true).expectPeer('x/c', 'x/a', true))]),
  one('should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector',
    [netpol('x', 'y-a', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: ns('y'), podSelector: pod('a') }] }] })],
    [tcp(80, R().expectPeer('', 'x/a', false).expectPeer('y/a', 'x/a', true))]),
  one('should enforce policy based on Ports',
    [netpol('x', 'port-81', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: ns('y') }], ports: [{ port: 81, protocol: 'TCP' }] }] })],
    [tcp(80, R().expectPeer('', 'x/a', false)), tcp(81, R().expectPeer('', 'x/a', false).expectPeer('y', 'x/a', true))]),
  one('should enforce multiple, stacked policies with overlapping podSelectors',
    [netpol('x', 'port-80', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: ns('y') }], ports: [{ port: 80, protocol: 'TCP' }] }] }),
      netpol('x', 'port-81', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: ns('y') }], ports: [{ port: 81, protocol: 'TCP' }] }] })],
    [tcp(80, R().expectPeer('', 'x/a', false).expectPeer('y', 'x/a', true)), tcp(81, R().expectPeer('', 'x/a', false).expectPeer('y', 'x/a', true))]),
  one('should support allow-all policy',
    [netpol('x', 'allow-all', { podSelector: all, ingress: [{}] })],
    [tcp(80, R()), tcp(81, R())],
    [[EXTERNAL, XA, 'TCP', 80, true]]),
  one('should allow ingress access on one named port',
    [netpol('x', 'named', { podSelector: all, ingress: [{ ports: [{ port: 'serve-81-tcp' }] }] })],
    [tcp(81, R()), tcp(80, R().expectPeer('', 'x', false))]),
  one('should allow ingress access from namespace on one named port',
    [netpol('x', 'named-ns', { podSelector: all, ingress: [{ from: [{ namespaceSelector: ns('y') }], ports: [{ port: 'serve-80-tcp', protocol: 'TCP' }] }] })],
    [tcp(80, R().expectPeer('', 'x', false).expectPeer('y', 'x', true)), tcp(81, R().expectPeer('', 'x', false))]),
  one('should allow egress access on one named port',
    [netpol('x', 'named-egress', { podSelector: all, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'serve-80-tcp' }] }] })],
    [tcp(80, R()), tcp(81, R().expectPeer('x', '', false))],
    // A named port resolves on pods only: an outside address on port 80 is not "serve-80-tcp".
    [[XA, EXTERNAL, 'TCP', 80, false]]),
  {
    name: 'should enforce updated policy',
    steps: [
      { policies: [netpol('x', 'p', { podSelector: all, ingress: [{ ports: [{ port: 'serve-81-tcp' }] }] })], probes: [tcp(81, R()), tcp(80, R().expectPeer('', 'x', false))] },
      { policies: [netpol('x', 'p', { podSelector: all, ingress: [{ ports: [{ port: 'serve-80-tcp' }] }] })], probes: [tcp(80, R()), tcp(81, R().expectPeer('', 'x', false))] },
    ],
  },
  {
    name: 'should allow ingress access from updated namespace',
    steps: [
      { policies: [netpol('x', 'p', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns2: 'updated' } } }] }] })], probes: [tcp(80, R().expectPeer('', 'x/a', false))] },
      { policies: [netpol('x', 'p', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns2: 'updated' } } }] }] })], edit: { nsLabels: { y: { ns2: 'updated' } } }, probes: [tcp(80, R().expectPeer('', 'x/a', false).expectPeer('y', 'x/a', true))] },
    ],
  },
  {
    name: 'should allow ingress access from updated pod',
    steps: [
      { policies: [netpol('x', 'p', { podSelector: pod('a'), ingress: [{ from: [{ podSelector: { matchLabels: { pod2: 'updated' } } }] }] })], probes: [tcp(80, R().expectPeer('', 'x/a', false))] },
      { policies: [netpol('x', 'p', { podSelector: pod('a'), ingress: [{ from: [{ podSelector: { matchLabels: { pod2: 'updated' } } }] }] })], edit: { podLabels: { 'x/b': { pod2: 'updated' } } }, probes: [tcp(80, R().expectPeer('', 'x/a', false).expectPeer('x/b', 'x/a', true))] },
    ],
  },
  one('should deny ingress from pods on other namespaces',
    [netpol('x', 'same-ns', { podSelector: all, ingress: [{ from: [{ podSelector: all }] }] })],
    [tcp(80, R().expectPeer('y', 'x', false).expectPeer('z', 'x', false))]),
  {
    name: 'should deny ingress access to updated pod',
    steps: [
      { policies: [netpol('x', 'p', { podSelector: { matchLabels: { target: 'isolated' } }, policyTypes: ['Ingress'] })], probes: [tcp(80, R())] },
      { policies: [netpol('x', 'p', { podSelector: { matchLabels: { target: 'isolated' } }, policyTypes: ['Ingress'] })], edit: { podLabels: { 'x/a': { target: 'isolated' } } }, probes: [tcp(80, R().expectPeer('', 'x/a', false))] },
    ],
  },
  one('should deny egress from pods based on PodSelector',
    [netpol('x', 'deny-egress-a', { podSelector: pod('a'), policyTypes: ['Egress'] })],
    [tcp(80, R().expectPeer('x/a', '', false))]),
  one('should deny egress from all pods in a namespace',
    [netpol('x', 'deny-egress', { podSelector: all, policyTypes: ['Egress'] })],
    [tcp(80, R().expectPeer('x', '', false))]),
  one('should work with Ingress, Egress specified together',
    [netpol('x', 'both', { podSelector: pod('a'), policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ podSelector: pod('b') }] }], egress: [{ to: [{ podSelector: pod('b') }] }] })],
    [tcp(80, R().expectPeer('', 'x/a', false).expectPeer('x/b', 'x/a', true).expectPeer('x/a', '', false).expectPeer('x/a', 'x/b', true))]),
  one('should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)',
    [netpol('x', 'a-to-y-only', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: ns('y') }] }] }),
      netpol('z', 'from-x-a', { podSelector: all, ingress: [{ from: [{ namespaceSelector: ns('x'), podSelector: pod('a') }] }] })],
    [tcp(80, R().expectPeer('', 'z', false).expectPeer('x/a', '', false).expectPeer('x/a', 'y', true))]),
  one('should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector',
    [netpol('x', 'to-y-a', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: ns('y'), podSelector: pod('a') }] }] })],
    [tcp(80, R().expectPeer('x/a', '', false).expectPeer('x/a', 'y/a', true))]),
  {
    name: 'should enforce multiple ingress policies with ingress allow-all policy taking precedence',
    steps: [
      { policies: [netpol('x', 'only-80', { podSelector: pod('a'), ingress: [{ ports: [{ port: 80 }] }] })], probes: [tcp(80, R()), tcp(81, R().expectPeer('', 'x/a', false))] },
      { policies: [netpol('x', 'only-80', { podSelector: pod('a'), ingress: [{ ports: [{ port: 80 }] }] }), netpol('x', 'allow-all', { podSelector: all, ingress: [{}] })], probes: [tcp(80, R()), tcp(81, R())] },
    ],
  },
  {
    name: 'should enforce multiple egress policies with egress allow-all policy taking precedence',
    steps: [
      { policies: [netpol('x', 'only-80', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ ports: [{ port: 80 }] }] })], probes: [tcp(80, R()), tcp(81, R().expectPeer('x/a', '', false))] },
      { policies: [netpol('x', 'only-80', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ ports: [{ port: 80 }] }] }), netpol('x', 'allow-all', { podSelector: all, egress: [{}], policyTypes: ['Egress'] })], probes: [tcp(80, R()), tcp(81, R())] },
    ],
  },
  {
    name: 'should stop enforcing policies after they are deleted',
    steps: [
      { policies: [netpol('x', 'deny-all', { podSelector: all, policyTypes: ['Ingress', 'Egress'] })], probes: [tcp(80, R().expectPeer('', 'x', false).expectPeer('x', '', false))] },
      { policies: [], probes: [tcp(80, R())] },
    ],
  },
  one('should allow egress access to server in CIDR block',
    [netpol('x', 'cidr', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: `${YB}/32` } }] }] })],
    [tcp(80, R().expectPeer('x/a', '', false).expectPeer('x/a', 'y/b', true))]),
  one('should enforce except clause while egress access to server in CIDR block',
    [netpol('x', 'except', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.244.0.0/16', except: [`${YB}/32`] } }] }] })],
    [tcp(80, R().expectPeer('x/a', 'y/b', false))],
    [[XA, EXTERNAL, 'TCP', 80, false]]),
  one('should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed',
    [netpol('x', 'except', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.244.0.0/16', except: [`${YB}/32`] } }] }] }),
      netpol('x', 'exact', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: `${YB}/32` } }] }] })],
    [tcp(80, R())]),
  one('should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector',
    [netpol('x', 'deny-egress-a', { podSelector: pod('a'), policyTypes: ['Egress'] }),
      netpol('x', 'allow-ingress-a-from-b', { podSelector: pod('a'), policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: pod('b') }] }] })],
    [tcp(80, R().expectPeer('x/a', '', false).expectPeer('', 'x/a', false).expectPeer('x/b', 'x/a', true))]),
  one("should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP",
    [netpol('x', 'sctp', { podSelector: pod('a'), ingress: [{ ports: [{ protocol: 'SCTP', port: 80 }] }] })],
    [tcp(80, R().expectPeer('', 'x/a', false)), { port: 80, protocol: 'SCTP', expect: R() }]),
  one("should properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't support SCTP",
    [netpol('x', 'sctp-any', { podSelector: all, ingress: [{ ports: [{ protocol: 'SCTP' }] }] })],
    [tcp(81, R().expectPeer('', 'x', false)), { port: 81, protocol: 'UDP', expect: R().expectPeer('', 'x', false) }, { port: 81, protocol: 'SCTP', expect: R() }]),
  one('should not allow access by TCP when a policy specifies only UDP',
    [netpol('x', 'udp', { podSelector: pod('a'), ingress: [{ ports: [{ protocol: 'UDP', port: 81 }] }] })],
    [tcp(81, R().expectPeer('', 'x/a', false)), { port: 81, protocol: 'UDP', expect: R() }]),
  one('should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label',
    [netpol('x', 'default-label', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'y' } } }] }] })],
    [tcp(80, R().expectPeer('', 'x/a', false).expectPeer('y', 'x/a', true))]),
  one('should enforce policy based on NamespaceSelector with MatchExpressions using default ns label',
    [netpol('x', 'default-label-expr', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['y'] }] } }] }] })],
    [tcp(80, R().expectPeer('y', 'x/a', false))]),
  one('should enforce ingress policy allowing any port traffic to a server on a specific protocol',
    [netpol('x', 'tcp-any-port', { podSelector: pod('a'), ingress: [{ ports: [{ protocol: 'TCP' }] }] })],
    [tcp(80, R()), tcp(81, R()), { port: 80, protocol: 'UDP', expect: R().expectPeer('', 'x/a', false) }]),
  one('should support a port range with endPort (ingress)',
    [netpol('x', 'range', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: ns('y') }], ports: [{ protocol: 'TCP', port: 81, endPort: 90 }] }] })],
    [tcp(80, R().expectPeer('', 'x/a', false)), tcp(81, R().expectPeer('', 'x/a', false).expectPeer('y', 'x/a', true)),
      tcp(90, R().expectPeer('', 'x/a', false).expectPeer('y', 'x/a', true)), tcp(91, R().expectPeer('', 'x/a', false))]),
  one('should support a port range with endPort (egress)',
    [netpol('x', 'range', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'TCP', port: 79, endPort: 80 }] }] })],
    [tcp(80, R()), tcp(81, R().expectPeer('x/a', '', false))]),
  one('egress deny all except DNS (UDP/53)',
    [netpol('x', 'dns-only', { podSelector: all, policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'UDP', port: 53 }] }] })],
    [{ port: 53, protocol: 'UDP', expect: R() }, { port: 53, protocol: 'TCP', expect: R().expectPeer('x', '', false) }, tcp(80, R().expectPeer('x', '', false))],
    [[XA, '10.96.0.10', 'UDP', 53, true], [XA, '10.96.0.10', 'TCP', 53, false]]),
  one('policyTypes Egress only: ingress rules are inert and ingress is not isolated',
    [netpol('x', 'egress-only', { podSelector: pod('a'), policyTypes: ['Egress'], ingress: [{ from: [{ podSelector: pod('b') }] }], egress: [{}] })],
    [tcp(80, R())]),
  one('an absent ingress list isolates with no rules: deny all (asWritten, policyTypes defaulted by podnet)',
    [netpol('x', 'deny', { podSelector: pod('a') }, true)],
    [tcp(80, R().expectPeer('', 'x/a', false))]),
  one('ingress: [{}] allows everything; egress rules without policyTypes add Egress isolation (asWritten)',
    [netpol('x', 'open', { podSelector: pod('a'), ingress: [{}], egress: [{ to: [{ podSelector: pod('b') }] }] }, true)],
    [tcp(80, R().expectPeer('x/a', '', false).expectPeer('x/a', 'x/b', true))]),
  one('an egress-only policy as the API serves it (policyTypes defaulted to Ingress, Egress) also denies all ingress',
    [netpol('x', 'egress-rules', { podSelector: pod('a'), egress: [{}] })],
    [tcp(80, R().expectPeer('', 'x/a', false))]),
  one('from: [] is "all sources", not "none"',
    [netpol('x', 'empty-from', { podSelector: pod('a'), ingress: [{ from: [], ports: [{ port: 80 }] }] })],
    [tcp(80, R()), tcp(81, R().expectPeer('', 'x/a', false))]),
  one('a selector that matches no pod allows nothing (not "any peer")',
    [netpol('x', 'nobody', { podSelector: pod('a'), ingress: [{ from: [{ podSelector: pod('nobody') }] }], egress: [{ to: [{ namespaceSelector: ns('nowhere') }] }] })],
    [tcp(80, R().expectPeer('', 'x/a', false).expectPeer('x/a', '', false))]),
  one('namespaceSelector {} with podSelector: matching pods in every namespace',
    [netpol('x', 'b-anywhere', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: all, podSelector: pod('b') }] }] })],
    [tcp(80, R().expectPeer('', 'x/a', false).expectPeer('x/b', 'x/a', true).expectPeer('y/b', 'x/a', true).expectPeer('z/b', 'x/a', true))]),
  one('ingress ipBlock matches pod addresses as plain CIDRs, with except',
    [netpol('x', 'block', { podSelector: pod('a'), ingress: [{ from: [{ ipBlock: { cidr: '10.244.2.0/24', except: ['10.244.2.2/32'] } }] }] })],
    [tcp(80, R().expectPeer('', 'x/a', false).expectPeer('y', 'x/a', true).expectPeer('y/b', 'x/a', false))],
    [[EXTERNAL, XA, 'TCP', 80, false]]),
  one('egress named port reached through an ipBlock: only pods inside the block that have the port',
    [netpol('x', 'named-block', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.244.2.0/24', except: ['10.244.2.3/32'] } }], ports: [{ port: 'serve-81-tcp' }] }] })],
    [tcp(81, R().expectPeer('x/a', '', false).expectPeer('x/a', 'y', true).expectPeer('x/a', 'y/c', false)), tcp(80, R().expectPeer('x/a', '', false))]),
  // Cyclonus-style truth tables, written out: rows are sources, columns destinations x|y|z × a b c.
  one('truth table: deny all ingress in x, allow from y/b and from namespace z on 80',
    [netpol('x', 'deny', { podSelector: all, policyTypes: ['Ingress'] }),
      netpol('x', 'allow', { podSelector: all, ingress: [{ from: [{ namespaceSelector: ns('y'), podSelector: pod('b') }, { namespaceSelector: ns('z') }], ports: [{ port: 80, protocol: 'TCP' }] }] })],
    [tcp(80, Reachability.table(`
      to   abc|abc|abc
      x/a  .XX|...|...
      x/b  X.X|...|...
      x/c  XX.|...|...
      y/a  XXX|...|...
      y/b  ...|...|...
      y/c  XXX|...|...
      z/a  ...|...|...
      z/b  ...|...|...
      z/c  ...|...|...`)),
    tcp(81, Reachability.table(`
      x/a  .XX|...|...
      x/b  X.X|...|...
      x/c  XX.|...|...
      y/a  XXX|...|...
      y/b  XXX|...|...
      y/c  XXX|...|...
      z/a  XXX|...|...
      z/b  XXX|...|...
      z/c  XXX|...|...`))]),
  one('truth table: default deny everywhere, each pod a may talk to b in its own namespace (both directions needed)',
    ['x', 'y', 'z'].flatMap((n) => [
      netpol(n, 'deny', { podSelector: all, policyTypes: ['Ingress', 'Egress'] }),
      netpol(n, 'a-to-b', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ to: [{ podSelector: pod('b') }] }] }),
      netpol(n, 'b-from-a', { podSelector: pod('b'), ingress: [{ from: [{ podSelector: pod('a') }] }] }),
    ]),
    [tcp(80, Reachability.table(`
      x/a  ..X|XXX|XXX
      x/b  X.X|XXX|XXX
      x/c  XX.|XXX|XXX
      y/a  XXX|..X|XXX
      y/b  XXX|X.X|XXX
      y/c  XXX|XX.|XXX
      z/a  XXX|XXX|..X
      z/b  XXX|XXX|X.X
      z/c  XXX|XXX|XX.`))]),
  one('truth table: egress from x/a to pod c anywhere on UDP 80 only',
    [netpol('x', 'a-udp-c', { podSelector: pod('a'), policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: all, podSelector: pod('c') }], ports: [{ protocol: 'UDP', port: 'serve-80-udp' }] }] })],
    [{ port: 80, protocol: 'UDP', expect: Reachability.table(`
      x/a  .X.|XX.|XX.
      x/b  ...|...|...
      x/c  ...|...|...
      y/a  ...|...|...
      y/b  ...|...|...
      y/c  ...|...|...
      z/a  ...|...|...
      z/b  ...|...|...
      z/c  ...|...|...`) },
    tcp(80, R().expectPeer('x/a', '', false))]),
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    c.steps.forEach((step, i) => {
      const tables = compileCluster(step.policies, step.edit);
      t.same(tableProblems(tables), [], `step ${i}: tables well formed`);
      for (const p of step.probes) {
        const proto = p.protocol ?? 'TCP';
        t.equal(observe(tables, p.port, proto).render(), p.expect.render(), `step ${i}: ${p.port}/${proto} matrix`);
      }
      for (const [src, dst, protocol, port, ok] of step.flows ?? []) {
        t.equal(allowed(tables, { src, dst, protocol, port }), ok, `step ${i}: ${src} -> ${dst} ${port}/${protocol}`);
      }
    });
  });
}

t.test('dual-stack: the same matrix over IPv6 addresses', async (t) => {
  const pols = [netpol('x', 'allow-ns-y', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: ns('y') }, { ipBlock: { cidr: 'fd00:10:244:3::/64', except: ['fd00:10:244:3::3/128'] } }] }] })];
  const tables = compileCluster(pols, { dualStack: true });
  t.same(tableProblems(tables), []);
  const want = R().expectPeer('', 'x/a', false).expectPeer('y', 'x/a', true);
  t.equal(observe(tables, 80, 'TCP', 4).render(), want.render(), 'IPv4');
  t.equal(observe(tables, 80, 'TCP', 6).render(), want.expectPeer('z/a', 'x/a', true).expectPeer('z/b', 'x/a', true).render(), 'IPv6 (ipBlock adds z/a, z/b)');
});
