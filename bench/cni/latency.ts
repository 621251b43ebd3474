// ADD and DEL latency of the podnet CNI plugin against the reference bridge + host-local, in
// the same run, same machine, same kind of config (median of N, default 20): the Node plugin
// (bin/podnet, with and without its V8 code cache), the native shim forwarding to the CNI
// server (the thick-plugin path podnetd hosts), and the floor a Node.js plugin cannot go below
// (`node -e 0`). Runs as root in namespaces it creates
// (pncnib + 4 hex) and removes. Usage: node dist/bench/cni/latency.js [--n 20] [--json]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const REPO = path.resolve(__dirname, '../../..');
const PODNET = path.join(REPO, 'bin/podnet');
const REF = '/usr/lib/cni';
const SHIM = path.join(REPO, 'dist/cni/podnet');

/** Starts podnet's CNI server in the host namespace (as podnetd would host it); resolves its pid. */
function startServer(hostNs: string, socket: string): Promise<number> {
  const child = spawn('nsenter', [`--net=/var/run/netns/${hostNs}`, process.execPath, path.join(REPO, 'dist/src/cni/server.js'), '--socket', socket],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve(child.pid!));
    child.once('exit', (code) => reject(new Error(`CNI server exited ${code}`)));
  });
}

function argValue(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
}

// CPU time (user+sys of the plugin and its children, via GNU time) next to wall time: on a
// loaded machine wall time scales with the load, CPU time much less. (The shim's CPU excludes
// the server's work, so it is not reported for that row.)
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
let lastCpuMs = NaN;

function timed(argv: string[], env: NodeJS.ProcessEnv, input: string): number {
  const full = GNU_TIME ? [GNU_TIME, '-f', 'pncni-cpu %U %S', ...argv] : argv;
  const t0 = process.hrtime.bigint();
  const r = spawnSync(full[0], full.slice(1), { env, input, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} (${env.CNI_COMMAND}) failed: ${r.stdout}${r.stderr}`);
  const m = /pncni-cpu ([\d.]+) ([\d.]+)/.exec(r.stderr ?? '');
  lastCpuMs = m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN;
  return ms;
}

interface Figures { add: number; del: number; adds: number[]; dels: number[]; addCpu: number; delCpu: number }

function measure(n: number, hostNs: string, pods: string[], plugin: string, conf: object, extra: NodeJS.ProcessEnv = {}): Figures {
  const adds: number[] = [];
  const dels: number[] = [];
  const input = JSON.stringify(conf);
  const env = (cmd: string, i: number): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH, CNI_COMMAND: cmd, CNI_CONTAINERID: `bench-${i}`, CNI_NETNS: `/var/run/netns/${pods[i]}`,
    CNI_IFNAME: 'eth0', CNI_PATH: `${path.dirname(PODNET)}:${REF}`, ...extra,
  });
  const argv = ['nsenter', `--net=/var/run/netns/${hostNs}`, plugin];
  // One warm-up pair: creates the bridge (a one-off per node) and warms the page cache.
  timed(argv, env('ADD', n), input);
  timed(argv, env('DEL', n), input);
  const addCpus: number[] = [];
  const delCpus: number[] = [];
  for (let i = 0; i < n; i++) { adds.push(timed(argv, env('ADD', i), input)); addCpus.push(lastCpuMs); }
  for (let i = 0; i < n; i++) { dels.push(timed(argv, env('DEL', i), input)); delCpus.push(lastCpuMs); }
  return { add: median(adds), del: median(dels), adds, dels, addCpu: median(addCpus), delCpu: median(delCpus) };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) { console.error('needs root (network namespaces)'); process.exit(2); }
  const n = argValue('--n', 20);
  const prefix = `pncnib${randomBytes(2).toString('hex')}`;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pncnib-'));
  const names: string[] = [];
  let serverPid: number | undefined;
  const add = (what: string) => { const nm = `${prefix}-${what}`; sh('ip', ['netns', 'add', nm]); names.push(nm); return nm; };
  try {
    const host = add('host');
    const pods = Array.from({ length: n + 1 }, (_, i) => add(`p${i}`));
    const ref = measure(n, host, pods, path.join(REF, 'bridge'), {
      cniVersion: '1.0.0', name: 'benchref', type: 'bridge', bridge: 'refbr0', isGateway: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.250.0.0/24' }], [{ subnet: 'fd00:250::/64' }]], routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }], dataDir: path.join(tmp, 'ref') },
    });
    const podnetConf = {
      cniVersion: '1.0.0', name: 'benchpodnet', type: 'podnet', bridge: 'podnet0', isolatePods: true,
      ipam: { type: 'podnet', ranges: [[{ subnet: '10.251.0.0/24' }], [{ subnet: 'fd00:251::/64' }]], routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }], dataDir: path.join(tmp, 'podnet') },
    };
    // The code cache in a private dir, primed by the warm-up pair; then the same without it.
    const ours = measure(n, host, pods, PODNET, podnetConf, { PODNET_CNI_CACHE: path.join(tmp, 'cache') });
    const noCache = measure(n, host, pods, PODNET, podnetConf, { PODNET_CNI_NO_CACHE: '1' });
    // The thick-plugin path: the C shim forwarding to a running server (podnetd's role).
    if (!existsSync(SHIM)) spawnSync('sh', [path.join(REPO, 'src/cni/shim/build.sh')], { stdio: 'ignore' });
    const socket = path.join(tmp, 'cni.sock');
    serverPid = await startServer(host, socket);
    const shim = measure(n, host, pods, SHIM, podnetConf, { PODNET_CNI_SOCKET: socket });
    // What the anti-spoofing filters (26 u32 filters per pod veth, over netlink) cost an ADD.
    const shimNoSpoof = measure(n, host, pods, SHIM, { ...podnetConf, antiSpoofing: false }, { PODNET_CNI_SOCKET: socket });
    const nodeFloor = median(Array.from({ length: n }, () => timed([process.execPath, '-e', '0'], { PATH: process.env.PATH, CNI_COMMAND: '-' }, '')));
    const result = {
      n,
      reference: { addMs: +ref.add.toFixed(1), delMs: +ref.del.toFixed(1), addCpuMs: ref.addCpu, delCpuMs: ref.delCpu },
      podnet: { addMs: +ours.add.toFixed(1), delMs: +ours.del.toFixed(1), addCpuMs: ours.addCpu, delCpuMs: ours.delCpu },
      podnetShim: { addMs: +shim.add.toFixed(1), delMs: +shim.del.toFixed(1) },
      podnetShimNoAntispoof: { addMs: +shimNoSpoof.add.toFixed(1), delMs: +shimNoSpoof.del.toFixed(1) },
      ratioShim: { add: +(shim.add / ref.add).toFixed(2), del: +(shim.del / ref.del).toFixed(2) },
      podnetNoCodeCache: { addMs: +noCache.add.toFixed(1), delMs: +noCache.del.toFixed(1) },
      ratio: { add: +(ours.add / ref.add).toFixed(2), del: +(ours.del / ref.del).toFixed(2) },
      nodeStartMs: +nodeFloor.toFixed(1),
      loadavg: os.loadavg().map((x) => +x.toFixed(2)),
    };
    if (process.argv.includes('--json')) { console.log(JSON.stringify(result)); return; }
    console.log(`CNI latency, median of ${n} (dual-stack, isolated ports), load ${result.loadavg.join(' ')}`);
    console.log(`               ADD ms   DEL ms   (CPU ms ADD / DEL)`);
    console.log(`bridge+h-local ${result.reference.addMs.toString().padStart(6)}   ${result.reference.delMs.toString().padStart(6)}   (${ref.addCpu} / ${ref.delCpu})`);
    console.log(`podnet (node)  ${result.podnet.addMs.toString().padStart(6)}   ${result.podnet.delMs.toString().padStart(6)}   (${ours.addCpu} / ${ours.delCpu})`);
 console.log(`podnet, no code cache ${result.podnetNoCodeCache.addMs}   ${result.podnetNoCodeCache.delMs}`);
    console.log(`ratio          ${result.ratio.add.toString().padStart(6)}   ${result.ratio.del.toString().padStart(6)}   (target ≤ 1.5)`);
    console.log(`shim → server ${result.podnetShim.addMs.toString().padStart(6)}   ${result.podnetShim.delMs.toString().padStart(6)}   ratio ${result.ratioShim.add} / ${result.ratioShim.del}`);
    console.log(`shim, no anti-spoofing ${result.podnetShimNoAntispoof.addMs}   ${result.podnetShimNoAntispoof.delMs}`);
    console.log(`node -e 0      ${result.nodeStartMs.toString().padStart(6)}            (start-up floor of a Node.js plugin)`);
  } finally {
    if (serverPid) { try { process.kill(serverPid, 'SIGTERM'); } catch { /* gone */ } }
    for (const nm of names) spawnSync('ip', ['netns', 'del', nm], { stdio: 'ignore' });
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
