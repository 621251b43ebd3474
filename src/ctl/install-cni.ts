// `podnetctl install-cni`: puts the podnet CNI plugin where container runtimes look for it.
//   copy   dist/cni/podnet (the native shim: forwards to podnetd's CNI server, falls back to the
//          Node plugin bin/podnet of this install) → BIN_DIR/podnet, atomically (temp + rename,
//          so a runtime exec'ing it mid-install never sees half a file)
//   write  CONF_DIR/10-podnet.conflist, a default network, unless one is there (--force replaces)
// Runtimes take the lexically first config in CONF_DIR: the report names any that sorts first.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const DEFAULT_BIN_DIR = '/opt/cni/bin';
export const DEFAULT_CONF_DIR = '/etc/cni/net.d';
export const CONFLIST_NAME = '10-podnet.conflist';
/** The shim as src/cni/shim/build.sh builds it (this file runs from dist/src/ctl/). */
export const DEFAULT_SHIM = path.resolve(__dirname, '../../cni/podnet');

export const INSTALL_USAGE = `usage: podnetctl install-cni [--bin-dir DIR] [--conf-dir DIR] [--force] [--shim PATH]
  copies the podnet CNI plugin (the native shim, ${DEFAULT_SHIM}) to DIR/podnet
  (default ${DEFAULT_BIN_DIR}) and writes ${CONFLIST_NAME} in the conf dir (default ${DEFAULT_CONF_DIR})
  unless it exists; --force replaces both. Run as root on the node.`;

export class InstallCniError extends Error {
  constructor(readonly code: 'INSTALL_CNI_NO_SHIM' | 'INSTALL_CNI_EXISTS' | 'INSTALL_CNI_IO', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InstallCniError';
  }
}

export interface InstallCniOptions {
  binDir?: string;
  confDir?: string;
  force?: boolean;
  shim?: string;
}

export interface InstallCniReport {
  plugin: { path: string; action: 'installed' | 'replaced' | 'unchanged' };
  conflist: { path: string; action: 'written' | 'replaced' | 'kept' };
  /** Configs that sort before ours: the runtime's default network is the first one. */
  shadowedBy: string[];
}

/** The default network: built-in IPAM on the node's pod CIDR (podnetd records it), dual-stack ready. */
export function defaultConflist(): Record<string, unknown> {
  return {
    cniVersion: '1.0.0',
    name: 'podnet',
    plugins: [{
      type: 'podnet', bridge: 'podnet0', mtu: 1500, isolatePods: true, antiSpoofing: true,
      ipam: { type: 'podnet', routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }], dataDir: '/var/lib/cni/networks' },
    }],
  };
}

function sameBytes(a: string, b: string): boolean {
  try { return readFileSync(a).equals(readFileSync(b)); } catch { return false; }
}

function io<T>(what: string, fn: () => T): T {
  try { return fn(); } catch (e) {
    throw new InstallCniError('INSTALL_CNI_IO', `${what}: ${(e as Error).message}`, { cause: e });
  }
}

export function installCni(o: InstallCniOptions = {}): InstallCniReport {
  const binDir = o.binDir ?? DEFAULT_BIN_DIR;
  const confDir = o.confDir ?? DEFAULT_CONF_DIR;
  const shim = o.shim ?? DEFAULT_SHIM;
  if (!existsSync(shim)) throw new InstallCniError('INSTALL_CNI_NO_SHIM', `${shim} does not exist: build it first (npm run build:cni-shim)`);

  const target = path.join(binDir, 'podnet');
  let pluginAction: InstallCniReport['plugin']['action'];
  if (sameBytes(shim, target)) {
    pluginAction = 'unchanged';
  } else {
    const had = existsSync(target);
    if (had && !o.force) throw new InstallCniError('INSTALL_CNI_EXISTS', `${target} exists and differs (another podnet build?): --force replaces it`);
    io(`install ${target}`, () => {
      mkdirSync(binDir, { recursive: true });
      const tmp = path.join(binDir, `.podnet.${process.pid}.tmp`);
      try {
        copyFileSync(shim, tmp);
        chmodSync(tmp, 0o755);
        renameSync(tmp, target);
      } finally { rmSync(tmp, { force: true }); }
    });
    pluginAction = had ? 'replaced' : 'installed';
  }

  const conf = path.join(confDir, CONFLIST_NAME);
  let confAction: InstallCniReport['conflist']['action'] = 'kept';
  const hadConf = existsSync(conf);
  if (!hadConf || o.force) {
    io(`write ${conf}`, () => {
      mkdirSync(confDir, { recursive: true });
      const tmp = `${conf}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(defaultConflist(), null, 2)}\n`, { mode: 0o644 });
      renameSync(tmp, conf);
    });
    confAction = hadConf ? 'replaced' : 'written';
  }
  const others = io(`read ${confDir}`, () => readdirSync(confDir))
    .filter((n) => /\.(conf|conflist|json)$/.test(n) && n !== CONFLIST_NAME && n < CONFLIST_NAME).sort();
  return { plugin: { path: target, action: pluginAction }, conflist: { path: conf, action: confAction }, shadowedBy: others };
}

/** The CLI front: `podnetctl install-cni …` (argv without the command word). Exit 0 ok, 1 failed, 2 usage. */
export async function installCniCommand(argv: string[], out: (s: string) => void): Promise<number> {
  const o: InstallCniOptions = {};
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value`);
      return v;
    };
    try {
      if (a === '--bin-dir') o.binDir = value();
      else if (a === '--conf-dir') o.confDir = value();
      else if (a === '--shim') o.shim = value();
      else if (a === '--force') o.force = true;
      else if (a === '--json') json = true;
      else if (a === '-h' || a === '--help') { out(INSTALL_USAGE); return 0; }
      else throw new Error(`unknown argument ${a}`);
    } catch (e) {
      process.stderr.write(`${(e as Error).message}\n${INSTALL_USAGE}\n`);
      return 2;
    }
  }
  try {
    const r = installCni(o);
    if (json) { out(JSON.stringify(r, null, 2)); return 0; }
    out(`${r.plugin.path}: ${r.plugin.action}`);
    out(`${r.conflist.path}: ${r.conflist.action}`);
    if (r.shadowedBy.length) out(`note: ${r.shadowedBy.join(', ')} sort(s) before ${CONFLIST_NAME}: runtimes use the first config as the default network`);
    return 0;
  } catch (e) {
    if (e instanceof InstallCniError) { process.stderr.write(`podnetctl install-cni: ${e.message} [${e.code}]\n`); return 1; }
    throw e;
  }
}
