// Delegated IPAM: any `ipam.type` other than "podnet" is an IPAM plugin looked up in CNI_PATH
// and run with our own stdin and environment, as the reference bridge does (so Debian's
// host-local, static or dhcp work). Its spec errors pass through with their codes.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import type { Attachment, NetConf } from '../config';
import type { CniEnv, Command } from '../env';
import { DelegateError, EnvironmentError, NotAvailableError, SpecCode } from '../errors';
import { tryParseCidr } from '../../net/cidr';
import { fromAny } from '../result';
import type { Ipam, IpamResult } from './ipam';

export function findPlugin(name: string, dirs: string[]): string {
  for (const d of dirs) {
    const p = path.join(d, name);
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  throw new EnvironmentError(`failed to find plugin "${name}" in path [${dirs.join(' ')}]`, name);
}

/** Runs a plugin; resolves its parsed stdout, or rejects with its error and its own spec code. */
export function execPlugin(name: string, env: CniEnv, command: Command, stdin: Buffer): Promise<unknown> {
  const bin = findPlugin(name, env.path);
  return new Promise((resolve, reject) => {
    // Asynchronous: inside podnetd's CNI server a blocking spawn would stall the event loop.
    const child = spawn(bin, [], { env: { ...env.raw, CNI_COMMAND: command }, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 });
    const out: Buffer[] = []; const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => reject(new DelegateError(name, SpecCode.IoFailure, `cannot run ${bin}: ${e.message}`)));
    child.on('close', (status) => {
      const text = Buffer.concat(out).toString('utf8').trim();
      let parsed: unknown;
      try { parsed = text ? JSON.parse(text) : undefined; } catch {
        reject(new DelegateError(name, SpecCode.DecodeFailure, `unparseable output (exit ${status}): ${text.slice(0, 200)}`));
        return;
      }
      if (status !== 0) {
        const e = (parsed ?? {}) as { code?: number; msg?: string; details?: string };
        reject(new DelegateError(name, typeof e.code === 'number' ? e.code : SpecCode.Internal,
          e.msg ?? `exited ${status}: ${Buffer.concat(err).toString().trim().slice(0, 200)}`, e.details));
        return;
      }
      resolve(parsed);
    });
    child.stdin.on('error', () => { /* plugin exited without reading: its exit status says why */ });
    child.stdin.end(stdin);
  });
}

/** How a plugin older than CNI 1.1 refuses GC and STATUS. */
function predatesGcStatus(code: number): boolean {
  return code === SpecCode.IncompatibleVersion || code === SpecCode.InvalidEnvironment || code === SpecCode.UnknownContainer;
}

export class DelegatedIpam implements Ipam {
  constructor(private readonly conf: NetConf, private readonly env: CniEnv) {}

  private get plugin(): string { return this.conf.ipam.type; }

  async add(): Promise<IpamResult> {
    const r = fromAny(await execPlugin(this.plugin, this.env, 'ADD', this.conf.raw), `${this.plugin} result`);
    return {
      ips: (r.ips ?? []).map((ip) => ({ address: ip.address, gateway: ip.gateway, family: tryParseCidr(ip.address, 'keep')!.family })),
      routes: r.routes ?? [],
      dns: r.dns,
    };
  }

  held(): string[] { return []; }

  async del(): Promise<void> { await execPlugin(this.plugin, this.env, 'DEL', this.conf.raw); }

  async check(): Promise<void> {
    await execPlugin(this.plugin, this.env, 'CHECK', this.conf.raw);
  }

  async gc(_valid: Attachment[]): Promise<void> {
    try { await execPlugin(this.plugin, this.env, 'GC', this.conf.raw); } catch (e) {
      // A plugin that predates GC (Debian's host-local 1.1.1) answers "incompatible version", or,
      // its skel checking CNI_CONTAINERID before the command, "missing containerID" (code 3).
      if (!(e instanceof DelegateError && predatesGcStatus(e.specCode))) throw e;
    }
  }

  async status(): Promise<void> {
    try { await execPlugin(this.plugin, this.env, 'STATUS', this.conf.raw); } catch (e) {
      if (e instanceof DelegateError && predatesGcStatus(e.specCode)) {
        findPlugin(this.plugin, this.env.path); // old plugin: present is all we can know
        return;
      }
      throw new NotAvailableError((e as Error).message);
    }
  }
}
