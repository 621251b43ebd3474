// podnetd's command line: `--config FILE` plus flags that override single config keys (kube-proxy
// style: the file is the base, a flag wins). Flags map to dotted config keys so that the one
// validator in config.ts checks both and names the key in its errors.
import path from 'node:path';
import { buildConfig, readConfigFile, setKey, type DaemonConfig } from './config';
import { DaemonError } from './errors';

export interface Args {
  config: string;
  cleanup: boolean;
  statsIntervalMs: number;
  /** Dotted config key → value, in the order given. */
  overrides: [string, unknown][];
}

const PATH_KEYS = ['manifests', 'kubeconfig', 'tables', 'stateFile', 'controlSocket', 'cniSocket'];

type Kind = 'string' | 'int' | 'bool' | 'list';

/** flag → [config key, kind]. */
const FLAGS: Record<string, [string, Kind]> = {
  '--manifests': ['manifests', 'string'],
  '--kubeconfig': ['kubeconfig', 'string'],
  '--tables': ['tables', 'string'],
  '--node-name': ['nodeName', 'string'],
  '--pod-cidrs': ['podCIDRs', 'list'],
  '--service-cidrs': ['serviceCIDRs', 'list'],
  '--bridge': ['bridge', 'string'],
  '--tun': ['tun.name', 'string'],
  '--tun-queues': ['tun.queues', 'int'],
  '--tun-steering': ['tun.steering', 'string'],
  '--state-file': ['stateFile', 'string'],
  '--healthz-bind-address': ['healthzBindAddress', 'string'],
  '--metrics-bind-address': ['metricsBindAddress', 'string'],
  '--control-socket': ['controlSocket', 'string'],
  '--cni-socket': ['cniSocket', 'string'],
  '--log-level': ['logLevel', 'string'],
  '--allow-host-netns': ['allowHostNetns', 'bool'],
};

export const USAGE = `usage: podnetd [--config FILE] [flags]
  --config FILE                 YAML (or JSON) config; see systemd/podnetd.yaml for every key
  --manifests DIR               serve Services/EndpointSlices from a manifest directory
  --kubeconfig PATH             serve from the Kubernetes API (in-cluster when KUBERNETES_SERVICE_HOST is set)
  --node-name NAME              this node's name (default: $NODE_NAME, else the hostname)
  --pod-cidrs A,B  --service-cidrs A,B  --bridge NAME  --tun NAME  --tun-queues N  --tun-steering cpu|flow
  --state-file PATH             flow table file ("" = memory only)
  --healthz-bind-address H:P    --metrics-bind-address H:P  ("" disables)
  --control-socket PATH         podnetctl's unix socket ("" disables)
  --cni-socket PATH             the embedded CNI server the podnet shim forwards to ("" disables)
  --log-level LEVEL             fatal|error|warn|info|debug|trace
  --allow-host-netns            run in a namespace that is not a named (ip netns) one: a real node
  --cleanup                     remove everything podnetd created (TUN, rules, routes, bridge, state) and exit
  --stats-interval MS           log engine stats every MS milliseconds`;

function convert(flag: string, kind: Kind, v: string): unknown {
  if (kind === 'int') {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new DaemonError('DAEMON_USAGE', `${flag}: not an integer: ${v}`);
    return n;
  }
  if (kind === 'list') return v.split(',').map((s) => s.trim()).filter(Boolean);
  if (kind === 'bool') return v !== 'false';
  return v;
}

export function parseArgs(argv: string[]): Args {
  const a: Args = { config: '', cleanup: false, statsIntervalMs: 0, overrides: [] };
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i];
    let value: string | undefined;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) { value = flag.slice(eq + 1); flag = flag.slice(0, eq); }
    const next = (): string => {
      if (value !== undefined) return value;
      const v = argv[++i];
      if (v === undefined) throw new DaemonError('DAEMON_USAGE', `${flag} needs a value\n${USAGE}`);
      return v;
    };
    if (flag === '--config') a.config = next();
    else if (flag === '--cleanup') a.cleanup = true;
    else if (flag === '--stats-interval') a.statsIntervalMs = Number(next());
    else if (flag === '--help' || flag === '-h') throw new DaemonError('DAEMON_USAGE', USAGE);
    else if (FLAGS[flag]) {
      const [key, kind] = FLAGS[flag];
      let v = kind === 'bool' && value === undefined ? true : convert(flag, kind, next());
      // Paths on the command line are relative to the working directory, not to the config file.
      if (PATH_KEYS.includes(key) && typeof v === 'string' && v !== '' && v !== 'in-cluster') v = path.resolve(v);
      a.overrides.push([key, v]);
    } else throw new DaemonError('DAEMON_USAGE', `unknown argument ${flag}\n${USAGE}`);
  }
  return a;
}

/** The effective config: file (if any) with the flags applied, validated as a whole. */
export function resolveConfig(args: Args): DaemonConfig {
  const raw = args.config ? readConfigFile(args.config) : {};
  for (const [k, v] of args.overrides) setKey(raw, k, v);
  return buildConfig(raw, args.config);
}
