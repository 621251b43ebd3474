// Entry point of the `podnet` CNI plugin. The runtime gives us CNI_* variables and a network
// config on stdin; we answer on stdout (a result, or a spec error object and exit 1) and nothing
// else ever writes to stdout. Two hosts run handle(): bin/podnet (one Node process per call) and
// server.ts inside podnetd (reached through the native shim, shim/podnet-shim.c). Modules are
// required lazily per command: start-up time is most of an ADD's cost (bench/cni/latency.ts).
import { readFileSync, writeSync } from 'node:fs';
import { toCniError } from './errors';
import type { CniHooks } from './hooks';
import { LATEST } from './version';

function readStdin(): Buffer {
  try { return readFileSync(0); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EAGAIN' || (e as NodeJS.ErrnoException).code === 'EOF') return Buffer.alloc(0);
    throw e;
  }
}

/** Spec-level refusals that need no system access (so they answer the same everywhere). */
function requireCommandAllowed(command: string, conf: import('./config').NetConf): void {
  const v = require('./version') as typeof import('./version');
  const { IncompatibleVersionError, ConfigError } = require('./errors') as typeof import('./errors');
  if (command === 'CHECK' && !v.allowsCheck(conf.cniVersion)) throw new IncompatibleVersionError('config version does not allow CHECK', conf.cniVersion);
  if ((command === 'GC' || command === 'STATUS') && !v.allowsGcStatus(conf.cniVersion)) {
    throw new IncompatibleVersionError(`config version does not allow ${command}`, conf.cniVersion);
  }
  if (command === 'GC' && !conf.validAttachments) throw new ConfigError('cni.dev/valid-attachments', undefined, 'required for GC');
}

async function dispatch(state: { cniVersion: string }, rawEnv: NodeJS.ProcessEnv, input: () => Buffer, hooks: CniHooks): Promise<unknown> {
  const { readEnv } = require('./env') as typeof import('./env');
  const env = readEnv(rawEnv);
  const stdin = input();

  if (env.command === 'VERSION') {
    const { versionInfo } = require('./version') as typeof import('./version');
    let requested: string | undefined;
    try { requested = (JSON.parse(stdin.toString() || '{}') as { cniVersion?: string }).cniVersion; } catch { /* no config: fine */ }
    return versionInfo(requested);
  }

  // Errors answer in the config's version whenever it has a usable one, even if the rest is bad.
  try {
    const v = (JSON.parse(stdin.toString('utf8')) as { cniVersion?: unknown }).cniVersion;
    if ((require('./version') as typeof import('./version')).isSupported(v)) state.cniVersion = v;
  } catch { /* parseConfig reports it */ }
  const { parseConfig } = require('./config') as typeof import('./config');
  const conf = parseConfig(stdin);
  state.cniVersion = conf.cniVersion;
  requireCommandAllowed(env.command, conf);
  if (rawEnv.PODNET_CNI_REQUIRE_NAMED_NETNS === '1' && env.command !== 'STATUS') {
    // Test guard: a test that forgot `nsenter --net=HOST` must not rewire the real node.
    const { assertSandboxedNetns } = require('../netns/current') as typeof import('../netns/current');
    assertSandboxedNetns('run the podnet CNI plugin');
  }

  const { makeLog } = require('./log') as typeof import('./log');
  const log = makeLog(conf.logLevel, conf.logFile, { cmd: env.command, containerId: env.containerId, ifname: env.ifname });

  switch (env.command) {
    case 'ADD': {
      const { cmdAdd } = require('./add') as typeof import('./add');
      const { toVersion } = require('./result') as typeof import('./result');
      return toVersion(await cmdAdd(conf, env, log, hooks), conf.cniVersion);
    }
    case 'DEL': {
      const { cmdDel } = require('./del') as typeof import('./del');
      await cmdDel(conf, env, log, hooks);
      return undefined;
    }
    case 'CHECK': {
      const { cmdCheck } = require('./check') as typeof import('./check');
      await cmdCheck(conf, env, hooks, log);
      return undefined;
    }
    case 'GC': {
      const { cmdGc } = require('./gc') as typeof import('./gc');
      await cmdGc(conf, env, log, hooks);
      return undefined;
    }
    case 'STATUS': {
      const { cmdStatus } = require('./gc') as typeof import('./gc');
      await cmdStatus(conf, env);
      return undefined;
    }
  }
}

/**
 * One CNI call: what to print on stdout and the exit code. Used by the binary and by server.ts
 * (which passes what its host lends, hooks.ts).
 */
export async function handle(rawEnv: NodeJS.ProcessEnv, input: () => Buffer, hooks: CniHooks = {}): Promise<{ exitCode: number; stdout: string }> {
  const state = { cniVersion: LATEST };
  try {
    const out = await dispatch(state, rawEnv, input, hooks);
    return { exitCode: 0, stdout: out === undefined ? '' : `${JSON.stringify(out)}\n` };
  } catch (e) {
    const err = toCniError(e);
    if (err.specCode === 999 && process.env.PODNET_CNI_LOG) process.stderr.write(`${(e as Error).stack}\n`);
    return { exitCode: 1, stdout: `${JSON.stringify({ cniVersion: state.cniVersion, ...err.toSpec() })}\n` };
  }
}

export async function main(): Promise<number> {
  const r = await handle(process.env, readStdin);
  if (r.stdout) writeSync(1, r.stdout);
  return r.exitCode;
}

/** Runs one CNI call and exits: nothing may run after the answer (nor netlink's socket linger). */
export function run(): void {
  main().then((code) => process.exit(code), (e) => { process.stderr.write(`${e}\n`); process.exit(1); });
}

if (require.main === module) run();
