// TUN queue steering with two queues. "cpu" (the default): a packet takes the queue of the CPU
// that sends it and each queue's engine thread is pinned to its CPUs, so connections made by a
// client and a server both pinned to one CPU are decided by that CPU's queue alone. "flow":
// the kernel spreads flows by hash and the threads may run anywhere. Traffic goes through a VIP
// on the TUN path (no kernel cache), so every packet of every connection reaches the engine.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import t from 'tap';
import { Podnetd, Sandbox } from '../../src/sandbox';
import { BACKEND_HTTP, HTTP_PORT, privileged, serviceTables, VIP4 } from './fixtures/helpers';

/** CPUs a task may run on, from /proc/PID/task/TID/status ("0-1", "1", "0,2"). */
function allowedCpus(pid: number, tid: string): number[] {
  const line = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Cpus_allowed_list:'))!;
  return line.split(':')[1].trim().split(',').flatMap((r) => {
    const [a, b] = r.split('-').map(Number);
    return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
  });
}

/** The engine threads (podnet-q0, podnet-q1, ...) and the CPUs each may use. */
function queueThreads(pid: number): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const m = /^podnet-q(\d+)$/.exec(readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim());
    if (m) out.set(Number(m[1]), allowedCpus(pid, tid));
  }
  return out;
}

const cpus = os.availableParallelism();

for (const steering of ['cpu', 'flow'] as const) {
  t.test(`two TUN queues steered by ${steering}`, async (t) => {
    if (!(await privileged(t))) return;
    if (cpus < 2) {
      // One CPU has nothing to steer between; CI machines have two.
      if (process.env.CI === 'true') t.fail(`steering needs at least 2 CPUs, this machine has ${cpus}`);
      else t.test('steering', { skip: `needs at least 2 CPUs, this machine has ${cpus}` }, () => undefined);
      return;
    }
    const sb = await Sandbox.create({ fastPath: false });
    t.teardown(() => sb.destroy());
    const client = await sb.addPod('client');
    const ep = await sb.addPod('ep1');
    const server = await sb.serve(ep, 'http-server', BACKEND_HTTP, ep.name);
    const podnetd = await Podnetd.start(sb, serviceTables([ep]), { queues: 2, steering });

    const st = await podnetd.status();
    t.equal(st.engine.steering, steering, 'status reports the steering');
    t.equal(st.engine.queues.length, 2, 'two queues');
    const threads = queueThreads(podnetd.pid);
    t.same([...threads.keys()].sort(), [0, 1], 'one engine thread per queue');
    const all = allowedCpus(podnetd.pid, String(podnetd.pid));
    for (const [q, set] of threads) {
      if (steering === 'cpu') t.same(set, all.filter((c) => c % 2 === q), `podnet-q${q} pinned to the CPUs of queue ${q}: ${set.join(',')}`);
      else t.same(set, all, `podnet-q${q} unpinned`);
    }
    if (steering === 'flow') return;

    // Client and server on one CPU: the connections' packets enter the TUN from that CPU
    // (the server's replies too), so that CPU's queue carries them. One CPU of each queue,
    // from those this process may use.
    const pick = [1, 0].map((q) => all.find((c) => c % 2 === q));
    if (pick.some((c) => c === undefined)) {
      t.fail(`no usable CPU for one of the queues: allowed CPUs ${all.join(',')}`);
      return;
    }
    for (const cpu of pick as number[]) {
      execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(server.pid)], { stdio: 'ignore' });
      const before = (await podnetd.status()).engine.queues.map((q) => q.packetsIn);
      const r = await sb.exec(client.ns, ['taskset', '-c', String(cpu), 'sh', '-c',
        `ok=0; for i in $(seq 20); do curl -sf -o /dev/null --max-time 5 http://${VIP4}:${HTTP_PORT}/ && ok=$((ok+1)); done; echo $ok`]);
      t.equal(r.stdout.trim(), '20', `CPU ${cpu}: 20 of 20 HTTP requests through the VIP answered`);
      const after = (await podnetd.status()).engine.queues.map((q) => q.packetsIn);
      const d = after.map((n, i) => n - before[i]);
      const total = d[0] + d[1];
      t.ok(total >= 20 * 6, `CPU ${cpu}: the engine saw every connection's packets (${total})`);
      t.ok(d[cpu % 2] >= 0.9 * total, `CPU ${cpu}: queue ${cpu % 2} carried ${d[cpu % 2]} of ${total} packets (queue ${1 - cpu % 2}: ${d[1 - cpu % 2]})`);
    }
  });
}

// Without CAP_BPF (and CAP_SYS_ADMIN) a kernel that keeps BPF from unprivileged processes
// (kernel.unprivileged_bpf_disabled 1 or 2, Debian's default) refuses the steering program:
// podnetd says why once and runs its queues steered by flow hash, threads unpinned.
t.test('cpu steering without BPF permission', async (t) => {
  if (!(await privileged(t))) return;
  const file = '/proc/sys/kernel/unprivileged_bpf_disabled';
  const locked = existsSync(file) && readFileSync(file, 'utf8').trim() !== '0';
  const sb = await Sandbox.create({ fastPath: false });
  t.teardown(() => sb.destroy());
  const ep = await sb.addPod('ep1');
  await sb.serve(ep, 'http-server', BACKEND_HTTP, ep.name);
  const podnetd = await Podnetd.start(sb, serviceTables([ep]), { queues: 2, steering: 'cpu', dropCaps: ['bpf', 'sys_admin'] });
  const st = await podnetd.status();
  const warned = podnetd.logs().includes('TUN steering by CPU unavailable');
  if (locked) {
    t.equal(st.engine.steering, 'flow', `${file} is set: steered by flow hash instead`);
    t.ok(warned, 'podnetd logged why');
    const all = allowedCpus(podnetd.pid, String(podnetd.pid));
    for (const [q, set] of queueThreads(podnetd.pid)) t.same(set, all, `podnet-q${q} unpinned`);
  } else {
    t.equal(st.engine.steering, 'cpu', `${file} is 0: a socket filter needs no privilege`);
    t.notOk(warned, 'nothing to warn about');
  }
  t.ok(st.podnetd.ready, 'podnetd is ready either way');
});
