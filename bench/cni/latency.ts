// ADD and DEL latency of the podnet CNI plugin against the reference bridge + host-local, in
// the same run, same machine, same kind of config (median of N, default 20): the Node plugin
// (bin/podnet, with and without its V8 code cache), the native shim forwarding to the CNI
// server (the thick-plugin path podnetd hosts), the same shim forwarding to podnetd itself with
// its kernel flow cache on (ADD then installs the pod's anti-spoofing through the cache instead
// of the u32 filters; its bpffs is mounted in the bench's temp dir and unmounted at the end),
// and the floor a Node.js plugin cannot go below (`node -e 0`). Runs as root in namespaces it
// creates (pncnib + 4 hex) and removes. Usage: node dist/bench/cni/latency.js [--n 20] [--json]
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NodePodnetd } from '../../src/sandbox/node-podnetd';

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

/** CPU time (user + sys, all threads) a process used so far, from /proc (clock ticks of 10 ms). */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

interface Pair { ref: number; ours: number; refCpu: number; oursCpu: number; serverCpu: number }

/**
 * The reference and ours call for call, alternating which goes first, each on its own pods:
 * on a loaded machine both see the same load. `serverPid`: the process that does our work
 * (podnetd), whose CPU time per call is added to the shim's.
 */
function interleaved(n: number, host: string, refPods: string[], ourPods: string[], refConf: object, ourConf: object,
  extra: NodeJS.ProcessEnv, serverPid: number): { add: Pair; del: Pair } {
  const env = (cmd: string, pod: string, i: number, x: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH, CNI_COMMAND: cmd, CNI_CONTAINERID: `pair-${i}`, CNI_NETNS: `/var/run/netns/${pod}`,
    CNI_IFNAME: 'eth0', CNI_PATH: `${path.dirname(PODNET)}:${REF}`, ...x,
  });
  const ns = ['nsenter', `--net=/var/run/netns/${host}`];
  const one = (cmd: string, i: number) => {
    const r: Partial<Pair> = {};
    const calls = [
      () => { r.ref = timed([...ns, path.join(REF, 'bridge')], env(cmd, refPods[i], i), JSON.stringify(refConf)); r.refCpu = lastCpuMs; },
      () => {
        const c0 = cpuMsOf(serverPid);
        r.ours = timed([...ns, SHIM], env(cmd, ourPods[i], i, extra), JSON.stringify(ourConf));
        r.oursCpu = lastCpuMs; r.serverCpu = cpuMsOf(serverPid) - c0;
      },
    ];
    if (i % 2) calls.reverse();
    for (const c of calls) c();
    return r as Pair;
  };
  one('ADD', n); one('DEL', n); // warm-up
  const adds = Array.from({ length: n }, (_, i) => one('ADD', i));
  const dels = Array.from({ length: n }, (_, i) => one('DEL', i));
  const sum = (xs: Pair[]): Pair => ({
    ref: median(xs.map((x) => x.ref)), ours: median(xs.map((x) => x.ours)), refCpu: median(xs.map((x) => x.refCpu)),
    // The server's CPU in 10 ms ticks: the mean over the calls, not the median.
    oursCpu: median(xs.map((x) => x.oursCpu)), serverCpu: xs.reduce((a, x) => a + x.serverCpu, 0) / xs.length,
  });
  return { add: sum(adds), del: sum(dels) };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) { console.error('needs root (network namespaces)'); process.exit(2); }
  const n = argValue('--n', 20);
  const prefix = `pncnib${randomBytes(2).toString('hex')}`;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pncnib-'));
  const names: string[] = [];
  let serverPid: number | undefined;
  let podnetd: NodePodnetd | undefined;
  const add = (what: string) => { const nm = `${prefix}-${what}`; sh('ip', ['netns', 'add', nm]); names.push(nm); return nm; };
  try {
    const host = add('host');
    const pods = Array.from({ length: n + 1 }, (_, i) => add(`p${i}`));
    const refConf = {
      cniVersion: '1.0.0', name: 'benchref', type: 'bridge', bridge: 'refbr0', isGateway: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.250.0.0/24' }], [{ subnet: 'fd00:250::/64' }]], routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }], dataDir: path.join(tmp, 'ref') },
    };
    const ref = measure(n, host, pods, path.join(REF, 'bridge'), refConf);
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
    // podnetd's own CNI server with the kernel flow cache on: anti-spoofing through the cache.
    podnetd = await NodePodnetd.start({ ns: host, dir: tmp, bridge: 'podnet0', podCIDRs: ['10.251.0.0/24', 'fd00:251::/64'], fastPath: true });
    const fastPathMode = (await podnetd.fastPath()).mode;
    const fast = measure(n, host, pods, SHIM, podnetConf, { PODNET_CNI_SOCKET: podnetd.cniSocket });
    // And call for call against the reference (its own pods), with podnetd's CPU per call.
    const refPods = Array.from({ length: n + 1 }, (_, i) => add(`r${i}`));
    const pair = interleaved(n, host, refPods, pods, refConf, podnetConf, { PODNET_CNI_SOCKET: podnetd.cniSocket }, podnetd.pid);
    const nodeFloor = median(Array.from({ length: n }, () => timed([process.execPath, '-e', '0'], { PATH: process.env.PATH, CNI_COMMAND: '-' }, '')));
    const result = {
      n,
      reference: { addMs: +ref.add.toFixed(1), delMs: +ref.del.toFixed(1), addCpuMs: ref.addCpu, delCpuMs: ref.delCpu },
      podnet: { addMs: +ours.add.toFixed(1), delMs: +ours.del.toFixed(1), addCpuMs: ours.addCpu, delCpuMs: ours.delCpu },
      podnetShim: { addMs: +shim.add.toFixed(1), delMs: +shim.del.toFixed(1) },
      podnetShimNoAntispoof: { addMs: +shimNoSpoof.add.toFixed(1), delMs: +shimNoSpoof.del.toFixed(1) },
      ratioShim: { add: +(shim.add / ref.add).toFixed(2), del: +(shim.del / ref.del).toFixed(2) },
      podnetdFastPath: { mode: fastPathMode, addMs: +fast.add.toFixed(1), delMs: +fast.del.toFixed(1) },
      ratioFastPath: { add: +(fast.add / ref.add).toFixed(2), del: +(fast.del / ref.del).toFixed(2) },
      interleaved: {
        addMs: { reference: +pair.add.ref.toFixed(1), podnetdFastPath: +pair.add.ours.toFixed(1), ratio: +(pair.add.ours / pair.add.ref).toFixed(2) },
        delMs: { reference: +pair.del.ref.toFixed(1), podnetdFastPath: +pair.del.ours.toFixed(1), ratio: +(pair.del.ours / pair.del.ref).toFixed(2) },
        addCpuMs: { reference: pair.add.refCpu, shim: pair.add.oursCpu, podnetd: +pair.add.serverCpu.toFixed(1), ratio: +((pair.add.oursCpu + pair.add.serverCpu) / pair.add.refCpu).toFixed(2) },
      },
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
    console.log(`shim → podnetd, fast path ${fastPathMode} ${result.podnetdFastPath.addMs}   ${result.podnetdFastPath.delMs}   ratio ${result.ratioFastPath.add} / ${result.ratioFastPath.del} (target ≤ 1.0)`);
    const il = result.interleaved;
    console.log(`interleaved with the reference: ADD ${il.addMs.reference} vs ${il.addMs.podnetdFastPath} (ratio ${il.addMs.ratio}), DEL ${il.delMs.reference} vs ${il.delMs.podnetdFastPath} (ratio ${il.delMs.ratio})`);
    console.log(`  CPU ms per ADD: reference ${il.addCpuMs.reference}, shim ${il.addCpuMs.shim} + podnetd ${il.addCpuMs.podnetd} (ratio ${il.addCpuMs.ratio})`);
    console.log(`node -e 0      ${result.nodeStartMs.toString().padStart(6)}            (start-up floor of a Node.js plugin)`);
  } finally {
    await podnetd?.stop().catch(() => undefined);
    spawnSync('umount', [path.join(tmp, 'bpffs')], { stdio: 'ignore' }); // a stop that did not get that far
    if (serverPid) { try { process.kill(serverPid, 'SIGTERM'); } catch { /* gone */ } }
    for (const nm of names) spawnSync('ip', ['netns', 'del', nm], { stdio: 'ignore' });
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
