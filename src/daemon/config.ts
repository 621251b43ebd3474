// podnetd's configuration file (JSON for now; the daemon issue brings YAML and flags) and the
// tables file it points at: a JSON array of ServicePortSpec, until the control plane lands.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { EngineOptions, ServicePortSpec } from '../engine/types';
import { DaemonError } from './errors';

export interface DaemonConfig {
  tun: { name: string; queues?: number; batch?: number };
  bridge: string;
  podCIDRs: string[];
  serviceCIDRs: string[];
  /** Path of the tables file (relative paths are relative to the config file). */
  tables: string;
  engine?: EngineOptions;
  /** Routing table id for "table podnet". */
  routeTable?: number;
  /** Log level (pino). Default "info". */
  logLevel?: string;
  /**
   * Allow running outside a named (ip netns) namespace, i.e. on a real node's own network.
   * Default false: until the daemon issue podnetd runs in sandboxes and refuses the host's.
   */
  allowHostNetns?: boolean;
}

function fail(file: string, msg: string): never {
  throw new DaemonError('DAEMON_BAD_CONFIG', `${file}: ${msg}`);
}

function strings(file: string, v: unknown, field: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) fail(file, `${field} must be an array of strings`);
  return v as string[];
}

export function loadConfig(file: string): DaemonConfig {
  let raw: unknown;
  try { raw = JSON.parse(readFileSync(file, 'utf8')); } catch (e) { fail(file, (e as Error).message); }
  if (!raw || typeof raw !== 'object') fail(file, 'not a JSON object');
  const c = raw as Record<string, unknown>;
  const tun = c.tun as DaemonConfig['tun'] | undefined;
  if (!tun || typeof tun.name !== 'string' || !tun.name) fail(file, 'tun.name is required');
  if (typeof c.bridge !== 'string' || !c.bridge) fail(file, 'bridge is required');
  if (typeof c.tables !== 'string' || !c.tables) fail(file, 'tables (path of the tables file) is required');
  return {
    tun: { name: tun.name, queues: tun.queues ?? 1, batch: tun.batch },
    bridge: c.bridge,
    podCIDRs: strings(file, c.podCIDRs ?? [], 'podCIDRs'),
    serviceCIDRs: strings(file, c.serviceCIDRs ?? [], 'serviceCIDRs'),
    tables: path.resolve(path.dirname(file), c.tables),
    engine: (c.engine as EngineOptions | undefined) ?? {},
    routeTable: typeof c.routeTable === 'number' ? c.routeTable : undefined,
    logLevel: typeof c.logLevel === 'string' ? c.logLevel : 'info',
    allowHostNetns: c.allowHostNetns === true,
  };
}

/** Reads the tables file; shape is checked loosely here, the engine validates every field. */
export function loadTables(file: string): ServicePortSpec[] {
  let raw: unknown;
  try { raw = JSON.parse(readFileSync(file, 'utf8')); } catch (e) {
    throw new DaemonError('DAEMON_BAD_TABLES', `${file}: ${(e as Error).message}`);
  }
  if (!Array.isArray(raw)) throw new DaemonError('DAEMON_BAD_TABLES', `${file}: expected an array of service ports`);
  return raw as ServicePortSpec[];
}
