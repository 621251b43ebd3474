// Sandbox naming and ownership. Every run gets an id "pn" + 4 hex digits; its namespaces are
// "<id>-<role>". A marker file records the owning PID so that a sweep removes only namespaces
// whose owner is gone (another run of the suite may be alive next to us).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Namespaces of the podnet sandbox family: "pn" + 4 hex + "-" + role. */
export const SANDBOX_NS_RE = /^(pn[0-9a-f]{4})-[a-z0-9-]+$/;

export const MARKER_DIR = path.join(os.tmpdir(), 'podnet-sandbox');

export function newSandboxId(): string {
  return `pn${randomBytes(2).toString('hex')}`;
}

function markerPath(id: string): string {
  return path.join(MARKER_DIR, `${id}.pid`);
}

/**
 * Picks a fresh id and claims it for this process (marker created with O_EXCL, so two runs can
 * never share an id). Done before any namespace or directory of the run exists.
 */
export function claimSandboxId(): string {
  mkdirSync(MARKER_DIR, { recursive: true });
  for (;;) {
    const id = newSandboxId();
    try {
      writeFileSync(markerPath(id), String(process.pid), { flag: 'wx' });
      return id;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

export function removeMarker(id: string): void {
  rmSync(markerPath(id), { force: true });
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

function ownerAlive(id: string): boolean {
  try {
    const pid = Number(readFileSync(markerPath(id), 'utf8'));
    return Number.isInteger(pid) && pid > 0 && alive(pid);
  } catch { return false; }
}

export function listNetns(): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
}

/** Deletes namespaces, work directories and markers of sandbox runs whose owner is gone. */
export function sweepStale(): string[] {
  const swept: string[] = [];
  for (const ns of listNetns()) {
    const m = SANDBOX_NS_RE.exec(ns);
    if (!m || ownerAlive(m[1])) continue;
    try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }); swept.push(ns); } catch { /* raced */ }
  }
  // Work directories (configs, tables files) of dead runs: os.tmpdir()/podnet-<id>-XXXXXX.
  for (const f of readdirSync(os.tmpdir())) {
    const m = /^podnet-(pn[0-9a-f]{4})-[A-Za-z0-9]{6}$/.exec(f);
    if (!m || ownerAlive(m[1])) continue;
    // A dead run's bpffs (sandbox.ts bpffsDir) is unmounted first, or the removal fails on it.
    try { execFileSync('umount', [path.join(os.tmpdir(), f, 'bpffs')], { stdio: 'ignore' }); } catch { /* not mounted */ }
    rmSync(path.join(os.tmpdir(), f), { recursive: true, force: true });
  }
  try {
    for (const f of readdirSync(MARKER_DIR)) {
      const id = f.replace(/\.pid$/, '');
      if (!ownerAlive(id)) removeMarker(id);
    }
  } catch { /* no marker dir yet */ }
  return swept;
}
