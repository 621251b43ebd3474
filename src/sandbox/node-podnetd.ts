// podnetd on a node namespace its caller built (the CNI tests and bench/cni/latency.ts make a
// bare "host" namespace and let the plugin create the bridge): a manifest source with no
// objects, the embedded CNI server the `podnet` shim forwards to, and optionally the kernel
// flow cache, pinned on a bpffs mounted in the caller's directory and unmounted by stop().
// Everything it writes lives in that directory and that namespace; it is stopped by PID.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { FastPathWireStatus } from '../ctl/api';
import { ControlClient } from '../ctl/client';
import { distFile, repoRoot } from './paths';
import { startProcess, type ManagedProcess } from './process';

export interface NodePodnetdOptions {
  /** The node namespace (a named one under /var/run/netns). */
  ns: string;
  /** The caller's own directory: config, sockets, state, the bpffs mount point. */
  dir: string;
  bridge: string;
  podCIDRs: string[];
  /** engine.fastPath, on a bpffs mounted at <dir>/bpffs. */
  fastPath?: boolean;
  logLevel?: string;
}

export class NodePodnetd {
  readonly cniSocket: string;
  readonly ctl: ControlClient;

  private constructor(readonly proc: ManagedProcess, private readonly bpffs: string | undefined, dir: string) {
    this.cniSocket = path.join(dir, 'cni.sock');
    this.ctl = new ControlClient(path.join(dir, 'podnetd.sock'));
  }

  static async start(o: NodePodnetdOptions): Promise<NodePodnetd> {
    distFile('src/daemon/main.js');
    const dir = path.join(o.dir, 'podnetd');
    const manifests = path.join(dir, 'manifests');
    mkdirSync(manifests, { recursive: true });
    // Its health and metrics listeners bind the namespace's loopback.
    execFileSync('ip', ['-n', o.ns, 'link', 'set', 'lo', 'up'], { stdio: 'ignore' });
    let bpffs: string | undefined;
    if (o.fastPath) {
      bpffs = path.join(o.dir, 'bpffs');
      mkdirSync(bpffs, { recursive: true });
      execFileSync('mount', ['-t', 'bpf', 'bpf', bpffs], { stdio: 'ignore' });
    }
    const config = {
      nodeName: o.ns,
      manifests,
      podCIDRs: o.podCIDRs,
      serviceCIDRs: ['10.96.0.0/16', 'fd00:96::/108'],
      bridge: o.bridge,
      // No busy polling: an idle podnetd must not take CPU from what is measured next to it.
      tun: { name: 'podnet-tun', queues: 1, busyPollUs: 0 },
      engine: bpffs ? { fastPath: true, bpffs } : {},
      stateFile: path.join(dir, 'state', 'flows'),
      controlSocket: path.join(dir, 'podnetd.sock'),
      cniSocket: path.join(dir, 'cni.sock'),
      // The node namespace's own loopback.
      healthzBindAddress: '127.0.0.1:10256',
      metricsBindAddress: '127.0.0.1:10249',
      logLevel: o.logLevel ?? 'info',
    };
    const file = path.join(dir, 'podnetd.yaml');
    writeFileSync(file, stringify(config));
    try {
      const proc = await startProcess(o.ns, [process.execPath, path.join(repoRoot(), 'bin/podnetd'), '--config', file],
        { readyLine: /"msg":"ready"/, timeoutMs: 20_000 });
      return new NodePodnetd(proc, bpffs, dir);
    } catch (e) {
      if (bpffs) unmount(bpffs);
      throw e;
    }
  }

  get pid(): number { return this.proc.pid; }

  /** The fast path as `podnetctl status` reports it. */
  async fastPath(): Promise<FastPathWireStatus> {
    return (await this.ctl.status()).fastPath ?? { mode: 'off', reason: 'not reported' };
  }

  logs(): string {
    return `${this.proc.lines.join('\n')}\n${this.proc.stderr}`;
  }

  /** SIGTERM (by PID), then the bpffs goes: its pins, and with them the attachments. */
  async stop(): Promise<void> {
    await this.proc.stop(5000);
    if (this.bpffs) unmount(this.bpffs);
  }
}

function unmount(dir: string): void {
  try { execFileSync('umount', [dir], { stdio: 'ignore' }); } catch { /* not mounted */ }
}
