// podnetd inside a sandbox's node namespace: writes its config and tables file, starts it, and
// drives it the way an operator would (rewrite tables + SIGHUP, SIGUSR2 for stats, SIGTERM).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { EngineOptions, EngineStats, ServicePortSpec } from '../engine/types';
import type { ManagedProcess } from './process';
import { distFile, repoRoot } from './paths';
import type { Sandbox } from './sandbox';

export interface PodnetdOptions {
  queues?: number;
  engine?: EngineOptions;
  logLevel?: string;
  env?: NodeJS.ProcessEnv;
}

export class Podnetd {
  readonly tablesFile: string;
  readonly configFile: string;

  private constructor(readonly sandbox: Sandbox, readonly proc: ManagedProcess, files: { tables: string; config: string }) {
    this.tablesFile = files.tables;
    this.configFile = files.config;
  }

  static async start(sb: Sandbox, tables: ServicePortSpec[], opts: PodnetdOptions = {}): Promise<Podnetd> {
    distFile('src/daemon/main.js');
    const tablesFile = path.join(sb.dir, 'tables.json');
    const configFile = path.join(sb.dir, 'podnetd.json');
    writeFileSync(tablesFile, JSON.stringify(tables, null, 2));
    writeFileSync(configFile, JSON.stringify({
      tun: { name: sb.tun, queues: opts.queues ?? 1 },
      bridge: sb.bridge,
      podCIDRs: [sb.podCIDR4, sb.podCIDR6],
      serviceCIDRs: sb.serviceCIDRs,
      tables: tablesFile,
      engine: opts.engine ?? {},
      logLevel: opts.logLevel ?? 'info',
    }, null, 2));
    const argv = [process.execPath, path.join(repoRoot(), 'bin/podnetd'), '--config', configFile];
    const proc = await sb.spawn(sb.nodeNs, argv, { readyLine: /"msg":"ready"/, timeoutMs: 20_000, env: opts.env });
    return new Podnetd(sb, proc, { tables: tablesFile, config: configFile });
  }

  get pid(): number { return this.proc.pid; }

  /** Rewrites the tables file, sends SIGHUP, waits until podnetd logged the new version. */
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

  logs(): string {
    return `${this.proc.lines.join('\n')}\n${this.proc.stderr}`;
  }
}
