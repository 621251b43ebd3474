// podnetd inside a sandbox's node namespace, driven the way an operator would: a YAML config,
// a manifest directory (Services + EndpointSlices, through the real control plane), the control
// socket (podnetctl's API), SIGHUP, SIGTERM. Every path (state file, socket, manifests) lives in
// the sandbox's own directory, so runs never share anything under /run/podnet.
// `Podnetd.start(sb, tables)` is the legacy mode (a tables file straight into the engine, no
// control plane) kept for the benchmark harness and the engine e2e tests.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { ControlClient } from '../ctl/client';
import type { ServicesReply, StatusReply } from '../ctl/api';
import type { EngineOptions, EngineStats, ServicePortSpec } from '../engine/types';
import { SandboxError } from './errors';
import { removeManifest, writeManifest } from './manifests';
import type { ManagedProcess } from './process';
import { distFile, repoRoot } from './paths';
import { bpffsDir, type Sandbox } from './sandbox';

export interface PodnetdOptions {
  queues?: number;
  /** tun.steering (default: podnetd's, "cpu"). */
  steering?: 'cpu' | 'flow';
  /** Capabilities podnetd runs without ("bpf", "sys_admin"): dropped from its bounding set by setpriv. */
  dropCaps?: string[];
  engine?: EngineOptions;
  logLevel?: string;
  env?: NodeJS.ProcessEnv;
  /** Extra config keys (merged last). */
  config?: Record<string, unknown>;
  /** Node namespace to run in (default: the sandbox's node). */
  ns?: string;
  /** Reuse this config file instead of writing one (restart tests). */
  configFile?: string;
}

export class Podnetd {
  readonly tablesFile: string;
  readonly configFile: string;
  readonly manifestDir: string;
  readonly socket: string;
  readonly stateFile: string;
  /** The embedded CNI server's socket (the podnet shim's PODNET_CNI_SOCKET). */
  readonly cniSocket: string;
  readonly ctl: ControlClient;
  /** ms from spawn to the "ready" line. */
  readonly startMs: number;

  private constructor(readonly sandbox: Sandbox, readonly proc: ManagedProcess,
    files: { tables: string; config: string; manifests: string; socket: string; state: string; cniSocket: string }, startMs: number) {
    this.tablesFile = files.tables;
    this.configFile = files.config;
    this.manifestDir = files.manifests;
    this.socket = files.socket;
    this.stateFile = files.state;
    this.cniSocket = files.cniSocket;
    this.ctl = new ControlClient(files.socket);
    this.startMs = startMs;
  }

  /** The files of a sandbox's podnetd (one per node namespace). */
  static paths(sb: Sandbox, ns = sb.nodeNs) {
    const base = path.join(sb.dir, ns);
    return {
      dir: base,
      tables: path.join(base, 'tables.json'),
      config: path.join(base, 'podnetd.yaml'),
      manifests: path.join(base, 'manifests'),
      socket: path.join(base, 'podnetd.sock'),
      cniSocket: path.join(base, 'cni.sock'),
      state: path.join(base, 'state', 'flows'),
    };
  }

  /**
   * Where podnetd pins the kernel flow cache: the sandbox's bpffs, or for another node namespace
   * (a cluster sandbox's nodes) a directory of its own on it. Pins are keyed by ifindex, which
   * every namespace numbers from 1: nodes sharing one pin directory would share their maps and
   * take over each other's attachments.
   */
  static bpffs(sb: Sandbox, ns?: string): string {
    return !ns || ns === sb.nodeNs ? bpffsDir(sb.dir) : path.join(bpffsDir(sb.dir), ns);
  }

  /** The config podnetd gets in a sandbox; `source` picks manifests (default) or the tables file. */
  static config(sb: Sandbox, source: 'manifests' | 'tables', opts: PodnetdOptions = {}): Record<string, unknown> {
    const p = Podnetd.paths(sb, opts.ns);
    return {
      nodeName: opts.ns ?? sb.nodeNs,
      ...(source === 'manifests' ? { manifests: p.manifests } : { tables: p.tables }),
      podCIDRs: [sb.podCIDR4, sb.podCIDR6],
      serviceCIDRs: sb.serviceCIDRs,
      bridge: sb.bridge,
      tun: { name: sb.tun, queues: opts.queues ?? 1, persist: true, ...(opts.steering ? { steering: opts.steering } : {}) },
      engine: { ...(sb.fastPath ? { fastPath: true, bpffs: Podnetd.bpffs(sb, opts.ns) } : {}), ...(opts.engine ?? {}) },
      stateFile: p.state,
      controlSocket: p.socket,
      cniSocket: p.cniSocket,
      nodeStateFile: path.join(path.dirname(p.state), 'node.json'),
      // The node namespace's own loopback: never reachable from outside the sandbox.
      healthzBindAddress: '127.0.0.1:10256',
      metricsBindAddress: '127.0.0.1:10249',
      logLevel: opts.logLevel ?? 'info',
      ...(opts.config ?? {}),
    };
  }

  private static async launch(sb: Sandbox, source: 'manifests' | 'tables', opts: PodnetdOptions): Promise<Podnetd> {
    distFile('src/daemon/main.js');
    const p = Podnetd.paths(sb, opts.ns);
    mkdirSync(p.manifests, { recursive: true });
    if (sb.fastPath) {
      sb.mountBpffs();
      mkdirSync(Podnetd.bpffs(sb, opts.ns), { recursive: true });
    }
    const configFile = opts.configFile ?? p.config;
    if (!opts.configFile) writeFileSync(configFile, stringify(Podnetd.config(sb, source, opts)));
    const argv = [...(opts.dropCaps?.length ? ['setpriv', '--bounding-set', opts.dropCaps.map((c) => `-${c}`).join(','), '--'] : []),
      process.execPath, path.join(repoRoot(), 'bin/podnetd'), '--config', configFile];
    const t0 = performance.now();
    const proc = await sb.spawn(opts.ns ?? sb.nodeNs, argv, { readyLine: /"msg":"ready"/, timeoutMs: 20_000, env: opts.env });
    return new Podnetd(sb, proc, { ...p, config: configFile }, performance.now() - t0);
  }

  /** podnetd on the sandbox's manifest directory (write objects with writeManifest first or after). */
  static startManifests(sb: Sandbox, opts: PodnetdOptions = {}): Promise<Podnetd> {
    return Podnetd.launch(sb, 'manifests', opts);
  }

  /** Legacy: podnetd programmed from a tables file (no control plane). */
  static async start(sb: Sandbox, tables: ServicePortSpec[], opts: PodnetdOptions = {}): Promise<Podnetd> {
    const p = Podnetd.paths(sb, opts.ns);
    mkdirSync(p.dir, { recursive: true });
    writeFileSync(p.tables, JSON.stringify(tables, null, 2));
    return Podnetd.launch(sb, 'tables', opts);
  }

  /** Starts another podnetd with the same config and files (after stop() or kill()). */
  restart(opts: PodnetdOptions = {}): Promise<Podnetd> {
    return Podnetd.launch(this.sandbox, 'manifests', { ...opts, configFile: this.configFile, ns: this.proc.ns ?? undefined });
  }

  get pid(): number { return this.proc.pid; }

  /** Writes a manifest file into the watched directory (atomic). */
  writeManifest(name: string, objects: Record<string, unknown>[] | string): void {
    writeManifest(this.manifestDir, name, objects);
  }

  removeManifest(name: string): void {
    removeManifest(this.manifestDir, name);
  }

  /** Polls the control API until `pred` holds for the programmed services. */
  async waitForServices(pred: (s: ServicesReply) => boolean, timeoutMs = 10_000): Promise<ServicesReply> {
    const until = Date.now() + timeoutMs;
    let last: ServicesReply | undefined;
    for (;;) {
      try { last = await this.ctl.services(); if (pred(last)) return last; } catch { /* not up yet */ }
      if (!this.proc.running) throw new SandboxError('SANDBOX_EXITED', `podnetd exited\n${this.logs().slice(-2000)}`);
      if (Date.now() > until) throw new SandboxError('SANDBOX_TIMEOUT', `services never matched; last: ${JSON.stringify(last?.services.map((s) => [s.name, s.backends.length]))}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  status(): Promise<StatusReply> { return this.ctl.status(); }

  /** Rewrites the tables file, sends SIGHUP, waits until podnetd logged the new version (legacy mode). */
  async setTables(tables: ServicePortSpec[]): Promise<{ version: number; flowsPurged: number }> {
    writeFileSync(this.tablesFile, JSON.stringify(tables, null, 2));
    const from = this.proc.lines.length;
    this.proc.signal('SIGHUP');
    const line = await this.proc.waitForLine(/"msg":"(tables applied|tables reload failed)"/, { from });
    const rec = JSON.parse(line) as { msg: string; version: number; flowsPurged: number; err?: { message: string } };
    if (rec.msg !== 'tables applied') throw new Error(`podnetd rejected the tables: ${rec.err?.message}`);
    return rec;
  }

  /** Engine counters, via SIGUSR2 and the "stats" log line. */
  async stats(): Promise<EngineStats> {
    const from = this.proc.lines.length;
    this.proc.signal('SIGUSR2');
    const line = await this.proc.waitForLine(/"msg":"stats"/, { from });
    return (JSON.parse(line) as { stats: EngineStats }).stats;
  }

  /** SIGTERM; resolves with the exit code. */
  async stop(): Promise<number | null> {
    await this.proc.stop(5000);
    return this.proc.exitCode;
  }

  /** SIGKILL, as a crash would: nothing gets to clean up. */
  async kill(): Promise<void> {
    this.proc.signal('SIGKILL');
    await this.proc.exited;
  }

  logs(): string {
    return `${this.proc.lines.join('\n')}\n${this.proc.stderr}`;
  }
}
