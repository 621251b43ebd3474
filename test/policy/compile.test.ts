// Table-driven compile tests: API objects in, engine tables out, rendered per pod as
//   "<pod> in: <isolatedBy> [rules…]  eg: …" so a row reads like the rule it checks.
// Covers what the conformance matrices cannot see: named ports resolved per pod (and rule sets
// split or shared accordingly), egress expansion per peer pod, which pods get entries, dedupe,
// canonical forms and determinism.
import t from 'tap';
import { compilePolicy, type PolicyInput } from '../../src/policy/compile';
import { describePods } from '../../src/policy/explain';
import { validateNamespace, validateNetworkPolicy, validatePod } from '../../src/policy/validate';
import type { PolicyTables } from '../../src/engine/types';
import { tableProblems } from './fixtures/evaluate';
import { namespace, netpol, pod, type PodArg } from '../helpers/kube-objects';

interface World {
  policies?: object[];
  pods: PodArg[];
  namespaces?: object[];
  hostAddresses?: string[];
  nodeName?: string;
}

function compile(w: World): PolicyTables {
  const input: PolicyInput = {
    policies: (w.policies ?? []).map((p) => validateNetworkPolicy(p)),
    pods: w.pods.map((p) => validatePod(pod(p))),
    namespaces: (w.namespaces ?? []).map((n) => validateNamespace(n)),
    ...(w.hostAddresses ? { hostAddresses: w.hostAddresses } : {}),
    ...(w.nodeName ? { nodeName: w.nodeName } : {}),
  };
  return compilePolicy(input);
}

/** One line per pod entry: name, then each isolated direction's policies and rules. */
function render(tables: PolicyTables): string[] {
  return describePods(tables).map((v) => {
    const dir = (tag: string, d?: { isolatedBy: string[]; rules: string[] }) => (d ? ` ${tag}[${d.isolatedBy.join(',')}]{${d.rules.join(' ; ')}}` : '');
    return `${v.pod}${dir('in', v.ingress)}${dir('eg', v.egress)}`;
  });
}

const web = (name: string, ip: string, ports: PodArg['ports'], labels: Record<string, string> = { app: 'web' }, ns = 'shop'): PodArg =>
  ({ name, namespace: ns, labels, ips: [ip], ports, nodeName: 'node-1' });
const client = (name: string, ip: string, ns = 'shop', labels: Record<string, string> = { app: 'client' }): PodArg =>
  ({ name, namespace: ns, labels, ips: [ip], nodeName: 'node-1' });

interface Case { name: string; world: World; want: string[]; ruleSets?: number }

const cases: Case[] = [
  {
    name: 'no policies: every live pod listed, none isolated',
    world: { pods: [client('c1', '10.244.0.5'), web('w1', '10.244.0.6', [])] },
    want: ['shop/c1', 'shop/w1'],
    ruleSets: 0,
  },
  {
    name: 'ingress named port resolves per pod: different numbers get different sets, equal ones share',
    world: {
      pods: [
        web('w1', '10.244.0.11', [[8080, 'TCP', 'http']]),
        web('w2', '10.244.0.12', [[8080, 'TCP', 'http']]),
        web('w3', '10.244.0.13', [[9090, 'TCP', 'http']]),
        web('w4', '10.244.0.14', [[9090, 'UDP', 'http']]),
        web('w5', '10.244.0.15', []),
      ],
      policies: [netpol('shop', 'web-http', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ ports: [{ port: 'http' }, { port: 443 }] }] })],
    },
    want: [
      'shop/w1 in[shop/web-http]{shop/web-http: peers any ports TCP/8080,TCP/443}',
      'shop/w2 in[shop/web-http]{shop/web-http: peers any ports TCP/8080,TCP/443}',
      'shop/w3 in[shop/web-http]{shop/web-http: peers any ports TCP/9090,TCP/443}',
      // A UDP "http" is not the TCP named port the policy asks for.
      'shop/w4 in[shop/web-http]{shop/web-http: peers any ports TCP/443}',
      'shop/w5 in[shop/web-http]{shop/web-http: peers any ports TCP/443}',
    ],
    ruleSets: 3,
  },
  {
    name: 'a rule whose only port is a named port the pod lacks is dropped: the pod is isolated with no rules',
    world: {
      pods: [web('w1', '10.244.0.11', [[8080, 'TCP', 'http']]), web('w2', '10.244.0.12', [[8080, 'TCP', 'metrics']])],
      policies: [netpol('shop', 'web-http', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ ports: [{ port: 'http' }] }] })],
    },
    want: [
      'shop/w1 in[shop/web-http]{shop/web-http: peers any ports TCP/8080}',
      'shop/w2 in[shop/web-http]{}',
    ],
  },
  {
    name: 'egress named port expands per destination pod, grouped by resolution; non-pods never match it',
    world: {
      pods: [
        client('c1', '10.244.0.5'),
        web('w1', '10.244.0.11', [[8080, 'TCP', 'http']]),
        web('w2', '10.244.0.12', [[8080, 'TCP', 'http']]),
        web('w3', '10.244.0.13', [[9090, 'TCP', 'http']]),
        web('w4', '10.244.0.14', [[9090, 'TCP', 'grpc']]),
      ],
      policies: [netpol('shop', 'client-out', {
        podSelector: { matchLabels: { app: 'client' } }, policyTypes: ['Egress'],
        egress: [{ to: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 'http' }, { port: 53, protocol: 'UDP' }] }],
      })],
    },
    want: [
      'shop/c1 eg[shop/client-out]{' + [
        'shop/client-out: peers 10.244.0.11/32,10.244.0.12/32,10.244.0.13/32,10.244.0.14/32 ports UDP/53',
        'shop/client-out: peers 10.244.0.11/32,10.244.0.12/32 ports TCP/8080',
        'shop/client-out: peers 10.244.0.13/32 ports TCP/9090',
      ].join(' ; ') + '}',
      'shop/w1', 'shop/w2', 'shop/w3', 'shop/w4',
    ],
  },
  {
    name: 'egress named port to "any" destination: every live pod with the port, in every namespace',
    world: {
      pods: [client('c1', '10.244.0.5'), web('w1', '10.244.0.11', [[8080, 'TCP', 'http']]), web('w9', '10.244.9.11', [[8081, 'TCP', 'http']], { app: 'web' }, 'other')],
      policies: [netpol('shop', 'out-http', { podSelector: { matchLabels: { app: 'client' } }, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'http' }] }] })],
    },
    want: [
      'other/w9',
      'shop/c1 eg[shop/out-http]{shop/out-http: peers 10.244.9.11/32 ports TCP/8081 ; shop/out-http: peers 10.244.0.11/32 ports TCP/8080}',
      'shop/w1',
    ],
  },
  {
    name: 'host-network, terminal and address-less pods are neither targets nor peers; pending pods with an address count',
    world: {
      pods: [
        client('c1', '10.244.0.5'),
        { name: 'hostnet', namespace: 'shop', labels: { app: 'client' }, ips: ['192.168.56.11'], hostNetwork: true },
        { name: 'done', namespace: 'shop', labels: { app: 'client' }, ips: ['10.244.0.7'], phase: 'Succeeded' },
        { name: 'failed', namespace: 'shop', labels: { app: 'client' }, ips: ['10.244.0.8'], phase: 'Failed' },
        { name: 'pending', namespace: 'shop', labels: { app: 'client' } },
        { name: 'starting', namespace: 'shop', labels: { app: 'client' }, ips: ['10.244.0.9'], phase: 'Pending' },
      ],
      policies: [netpol('shop', 'clients-only', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }] }] })],
    },
    want: [
      'shop/c1 in[shop/clients-only]{shop/clients-only: peers 10.244.0.5/32,10.244.0.9/32 ports any}',
      'shop/starting in[shop/clients-only]{shop/clients-only: peers 10.244.0.5/32,10.244.0.9/32 ports any}',
    ],
    ruleSets: 1,
  },
  {
    name: 'nodeName: only this node\'s pods get entries; pods on other nodes still count as peers',
    world: {
      nodeName: 'node-1',
      pods: [client('c1', '10.244.0.5'), { ...client('c2', '10.244.1.5'), nodeName: 'node-2' }, web('w1', '10.244.0.11', [])],
      policies: [netpol('shop', 'from-clients', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }] }] })],
    },
    want: [
      'shop/c1 in[shop/from-clients]{shop/from-clients: peers 10.244.0.5/32,10.244.1.5/32 ports any}',
      'shop/w1 in[shop/from-clients]{shop/from-clients: peers 10.244.0.5/32,10.244.1.5/32 ports any}',
    ],
  },
  {
    name: 'several policies: isolatedBy lists all of them in key order, rules OR-ed in the same order',
    world: {
      pods: [web('w1', '10.244.0.11', []), client('c1', '10.244.0.5')],
      policies: [
        netpol('shop', 'b-ports', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ ports: [{ port: 80 }, { port: 5000, endPort: 5010, protocol: 'UDP' }] }] }),
        netpol('shop', 'a-clients', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }] }] }),
        netpol('shop', 'c-egress-only', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'] }),
      ],
    },
    want: [
      'shop/c1 in[shop/a-clients]{shop/a-clients: peers 10.244.0.5/32 ports any}',
      'shop/w1 in[shop/a-clients,shop/b-ports]{shop/a-clients: peers 10.244.0.5/32 ports any ; shop/b-ports: peers any ports TCP/80,UDP/5000-5010} eg[shop/c-egress-only]{}',
    ],
  },
  {
    name: 'ipBlock canonical: host bits cleared, IPv6 compressed, except sorted',
    world: {
      pods: [web('w1', '10.244.0.11', [])],
      policies: [netpol('shop', 'blocks', { podSelector: {}, ingress: [{ from: [
        { ipBlock: { cidr: '10.1.2.3/16', except: ['10.1.9.0/24', '10.1.3.0/24'] } },
        { ipBlock: { cidr: 'FD00:0:0:0::1/64' } },
      ] }] })],
    },
    want: ['shop/w1 in[shop/blocks]{shop/blocks: peers 10.1.0.0/16 except 10.1.3.0/24 10.1.9.0/24,fd00::/64 ports any}'],
  },
  {
    name: 'dual-stack pods: both addresses are peers and both are listed on the entry',
    world: {
      pods: [{ ...client('c1', '10.244.0.5'), ips: ['10.244.0.5', 'FD00::5'] }, web('w1', '10.244.0.11', [])],
      policies: [netpol('shop', 'from-clients', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }] }] })],
    },
    want: ['shop/c1', 'shop/w1 in[shop/from-clients]{shop/from-clients: peers 10.244.0.5/32,fd00::5/128 ports any}'],
  },
  {
    name: 'a namespace without its object still matches on kubernetes.io/metadata.name, not on other labels',
    world: {
      pods: [web('w1', '10.244.0.11', []), client('c1', '10.244.7.5', 'ghost')],
      policies: [netpol('shop', 'from-ghost', { podSelector: {}, ingress: [
        { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ghost' } } }], ports: [{ port: 1 }] },
        { from: [{ namespaceSelector: { matchLabels: { team: 'ghosts' } } }], ports: [{ port: 2 }] },
      ] })],
    },
    want: ['ghost/c1', 'shop/w1 in[shop/from-ghost]{shop/from-ghost: peers 10.244.7.5/32 ports TCP/1}'],
  },
  {
    name: 'namespace labels come from the Namespace object',
    world: {
      namespaces: [namespace('shop'), namespace('ops', { team: 'sre' })],
      pods: [web('w1', '10.244.0.11', []), client('c1', '10.244.7.5', 'ops')],
      policies: [netpol('shop', 'from-sre', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'sre' } } }] }] })],
    },
    want: ['ops/c1', 'shop/w1 in[shop/from-sre]{shop/from-sre: peers 10.244.7.5/32 ports any}'],
  },
  {
    name: 'a policy selects pods of its own namespace only',
    world: {
      pods: [web('w1', '10.244.0.11', []), web('w2', '10.244.8.11', [], { app: 'web' }, 'other')],
      policies: [netpol('shop', 'deny', { podSelector: {}, policyTypes: ['Ingress'] })],
    },
    want: ['other/w2', 'shop/w1 in[shop/deny]{}'],
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const tables = compile(c.world);
    t.same(tableProblems(tables), [], 'well formed');
    t.same(render(tables), c.want);
    if (c.ruleSets !== undefined) t.equal(tables.ruleSets.length, c.ruleSets, 'rule sets after dedupe');
  });
}

t.test('identical pods share one rule set per direction', async (t) => {
  const pods = Array.from({ length: 50 }, (_, i) => web(`w${i}`, `10.244.0.${i + 10}`, [[8080, 'TCP', 'http']]));
  const tables = compile({
    pods,
    policies: [netpol('shop', 'p', { podSelector: {}, ingress: [{ ports: [{ port: 'http' }] }], egress: [{ ports: [{ port: 'http' }] }] })],
  });
  t.equal(tables.ruleSets.length, 2);
  t.ok(tables.pods.every((p) => p.ingress === tables.pods[0].ingress && p.egress === tables.pods[0].egress));
});

t.test('host addresses are canonical and invalid ones dropped', async (t) => {
  const tables = compile({ pods: [], hostAddresses: ['192.168.56.11', 'FD00::0B', 'not-an-ip', '192.168.56.11'] });
  t.same(tables.hostAddresses, ['192.168.56.11', 'fd00::b']);
  t.notOk('hostAddresses' in compile({ pods: [] }), 'absent when there are none');
});

t.test('deterministic: input order does not change the tables', async (t) => {
  const world: World = {
    pods: [client('c1', '10.244.0.5'), client('c2', '10.244.0.6'), web('w1', '10.244.0.11', [[80, 'TCP', 'http']]), web('w2', '10.244.0.12', [[81, 'TCP', 'http']])],
    policies: [
      netpol('shop', 'a', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 'http' }] }] }),
      netpol('shop', 'b', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: {} }], ports: [{ port: 'http' }] }] }),
    ],
  };
  const a = compile(world);
  const b = compile({ ...world, pods: [...world.pods].reverse(), policies: [...world.policies!].reverse() });
  t.same(b, a);
});

t.test('policies with duplicate rules, unknown namespaces or no pods compile without error', async (t) => {
  const tables = compile({
    pods: [web('w1', '10.244.0.11', [])],
    policies: [
      netpol('empty-ns', 'p', { podSelector: {}, ingress: [{}] }),
      netpol('shop', 'dup', { podSelector: {}, ingress: [{ ports: [{ port: 80 }] }, { ports: [{ port: 80 }] }] }),
    ],
  });
  t.same(render(tables), ['shop/w1 in[shop/dup]{shop/dup: peers any ports TCP/80 ; shop/dup: peers any ports TCP/80}']);
});
