// The CNI_* environment: which variables each command needs, and their syntax rules (container
// IDs and interface names as the reference plugins validate them, so runtimes see the same
// spec codes from podnet as from `bridge`).
import { EnvironmentError } from './errors';

export type Command = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'GC' | 'STATUS';
const COMMANDS: readonly Command[] = ['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS'];

export interface CniEnv {
  command: Command;
  containerId: string;
  netns: string;
  ifname: string;
  path: string[];
  /** CNI_ARGS as key/value pairs ("IgnoreUnknown=1;IP=10.244.1.9"). */
  args: Map<string, string>;
  /** The request's whole environment: a delegated plugin gets it (in podnetd's CNI server it is not process.env). */
  raw: NodeJS.ProcessEnv;
}

const REQUIRED: Record<Command, string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  GC: ['CNI_PATH'],
  STATUS: ['CNI_PATH'],
  VERSION: [],
};

const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Linux IFNAMSIZ rules: 1-15 bytes, not "." or "..", no '/', ':' or whitespace. */
export function validIfname(name: string): string | undefined {
  if (name.length === 0) return 'interface name is empty';
  if (Buffer.byteLength(name) > 15) return 'interface name is too long';
  if (name === '.' || name === '..') return 'interface name is . or ..';
  if (/[/:\s]/.test(name)) return 'interface name contains / or : or whitespace characters';
  return undefined;
}

export function parseCniArgs(s: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!s) return out;
  for (const pair of s.split(';')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new EnvironmentError(`invalid CNI_ARGS pair "${pair}"`, s);
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}

export function readEnv(env: NodeJS.ProcessEnv): CniEnv {
  const cmd = env.CNI_COMMAND;
  if (!cmd) throw new EnvironmentError('required env variables [CNI_COMMAND] missing');
  if (!(COMMANDS as string[]).includes(cmd)) throw new EnvironmentError(`unknown CNI_COMMAND: ${cmd}`, cmd);
  const command = cmd as Command;
  const missing = REQUIRED[command].filter((k) => !env[k]);
  if (missing.length) throw new EnvironmentError(`required env variables [${missing.join(' ')}] missing`);
  const containerId = env.CNI_CONTAINERID ?? '';
  if (containerId && !CONTAINER_ID.test(containerId)) {
    throw new EnvironmentError('invalid characters in containerID', containerId);
  }
  const ifname = env.CNI_IFNAME ?? '';
  if (REQUIRED[command].includes('CNI_IFNAME')) {
    const bad = validIfname(ifname);
    if (bad) throw new EnvironmentError(`CNI_IFNAME: ${bad}`, ifname);
  }
  return {
    command,
    containerId,
    netns: env.CNI_NETNS ?? '',
    ifname,
    path: (env.CNI_PATH ?? '').split(':').filter(Boolean),
    args: parseCniArgs(env.CNI_ARGS),
    raw: env,
  };
}
