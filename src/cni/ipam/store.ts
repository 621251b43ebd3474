// The IPAM store: where reservations live. Same layout as host-local's disk backend, so an
// operator's habits carry over: <dataDir>/<network>/<ip> holds "containerID\r\nifname", created
// with O_EXCL (two ADDs can never both own an address, lock or not), last_reserved_ip.<set>
// remembers where allocation continues, and every mutation runs under <network>/lock.
// Node has no flock(2): the lock is an O_EXCL lock file holding the owner's PID; a lock whose
// owner is dead is broken. Everything is synchronous: a CNI call is one short critical section.
import { closeSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { IoError, TryAgainError } from '../errors';

export interface Reservation { ip: string; containerId: string; ifname: string }

/** What IPAM needs from storage (cf. host-local's 27-line Store interface). */
export interface Store {
  /** Runs fn holding the network's lock. */
  withLock<T>(fn: () => T): T;
  /** Records ip for (id, ifname); false when the address is already taken. */
  reserve(containerId: string, ifname: string, ip: string, rangeSet: number): boolean;
  lastReserved(rangeSet: number): string | undefined;
  /** Addresses held by (id, ifname). */
  getById(containerId: string, ifname: string): string[];
  /** Who holds ip, if anyone. */
  owner(ip: string): Reservation | undefined;
  /** Drops every reservation of (id, ifname); returns the released addresses. */
  releaseById(containerId: string, ifname: string): string[];
  release(ip: string): void;
  list(): Reservation[];
}

const LOCK_TIMEOUT_MS = 30_000;
/** Lock temp names unique per attempt: several callers may share a PID (worker threads). */
let lockSeq = 0;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms: number) => Atomics.wait(sleeper, 0, 0, ms);

function errnoOf(e: unknown): string | undefined { return (e as NodeJS.ErrnoException)?.code; }

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try { process.kill(pid, 0); return true; } catch (e) { return errnoOf(e) === 'EPERM'; }
}

/** File names are the addresses themselves; anything else in the directory is ours. */
function isAddressFile(name: string): boolean {
  return !name.startsWith('lock') && !name.startsWith('last_reserved_ip') && !name.startsWith('.') && (name.includes('.') || name.includes(':'));
}

export class DiskStore implements Store {
  readonly dir: string;
  private lockDepth = 0;

  constructor(dataDir: string, network: string) {
    this.dir = path.join(dataDir, network);
    try { mkdirSync(this.dir, { recursive: true, mode: 0o755 }); } catch (e) {
      throw new IoError(`cannot create IPAM directory ${this.dir}: ${(e as Error).message}`, { cause: e });
    }
  }

  withLock<T>(fn: () => T): T {
    if (this.lockDepth > 0) { this.lockDepth++; try { return fn(); } finally { this.lockDepth--; } }
    const lockPath = path.join(this.dir, 'lock');
    const deadline = Date.now() + LOCK_TIMEOUT_MS;
    let wait = 1;
    // The lock file appears atomically with its owner's PID in it (write aside, then link):
    // a waiter never sees an empty lock file and mistakes it for a dead owner's.
    const mine = `${lockPath}.${process.pid}.${++lockSeq}.${Math.random().toString(36).slice(2, 8)}`;
    writeFileSync(mine, String(process.pid));
    try {
      for (;;) {
        try { linkSync(mine, lockPath); break; } catch (e) {
          if (errnoOf(e) !== 'EEXIST') throw new IoError(`cannot take IPAM lock ${lockPath}: ${(e as Error).message}`, { cause: e });
          this.breakStaleLock(lockPath);
          if (Date.now() > deadline) throw new TryAgainError(`IPAM lock ${lockPath} held for more than ${LOCK_TIMEOUT_MS} ms`);
          sleep(wait);
          wait = Math.min(wait * 2, 10);
        }
      }
    } finally {
      try { unlinkSync(mine); } catch { /* gone */ }
    }
    this.lockDepth = 1;
    try { return fn(); } finally {
      this.lockDepth = 0;
      try { unlinkSync(lockPath); } catch { /* broken by someone who thought we died */ }
    }
  }

  /** A crashed holder leaves its lock file behind: its PID is gone, so the lock is free. */
  private breakStaleLock(lockPath: string): void {
    let pid: number;
    try {
      const st = statSync(lockPath);
      // Young lock: its owner is surely alive; saves a read on the common path.
      if (Date.now() - st.mtimeMs < 100) return;
      pid = Number(readFileSync(lockPath, 'utf8'));
    } catch { return; }
    if (pidAlive(pid)) return;
    // rename is atomic: of several waiters that saw the same dead PID, one breaks the lock.
    const aside = `${lockPath}.stale.${process.pid}`;
    try { renameSync(lockPath, aside); unlinkSync(aside); } catch { /* someone else did */ }
  }

  reserve(containerId: string, ifname: string, ip: string, rangeSet: number): boolean {
    const file = path.join(this.dir, ip);
    let fd: number;
    try { fd = openSync(file, 'wx', 0o644); } catch (e) {
      if (errnoOf(e) === 'EEXIST') return false;
      throw new IoError(`cannot reserve ${ip}: ${(e as Error).message}`, { cause: e });
    }
    try { writeSync(fd, `${containerId.trim()}\r\n${ifname}`); } finally { closeSync(fd); }
    try { writeFileSync(path.join(this.dir, `last_reserved_ip.${rangeSet}`), ip); } catch (e) {
      throw new IoError(`cannot record last reserved IP: ${(e as Error).message}`, { cause: e });
    }
    return true;
  }

  lastReserved(rangeSet: number): string | undefined {
    try { return readFileSync(path.join(this.dir, `last_reserved_ip.${rangeSet}`), 'utf8').trim(); } catch { return undefined; }
  }

  private read(ip: string): Reservation | undefined {
    let text: string;
    try { text = readFileSync(path.join(this.dir, ip), 'utf8'); } catch { return undefined; }
    const [id, ifname] = text.split(/\r?\n/);
    return { ip, containerId: (id ?? '').trim(), ifname: (ifname ?? '').trim() };
  }

  owner(ip: string): Reservation | undefined { return this.read(ip); }

  list(): Reservation[] {
    let names: string[];
    try { names = readdirSync(this.dir); } catch (e) {
      if (errnoOf(e) === 'ENOENT') return [];
      throw new IoError(`cannot list ${this.dir}: ${(e as Error).message}`, { cause: e });
    }
    const out: Reservation[] = [];
    for (const n of names) {
      if (!isAddressFile(n)) continue;
      const r = this.read(n);
      if (r) out.push(r);
    }
    return out;
  }

  getById(containerId: string, ifname: string): string[] {
    // Files written by host-local < 0.7 carry no ifname: they match any.
    return this.list().filter((r) => r.containerId === containerId && (r.ifname === ifname || r.ifname === '')).map((r) => r.ip);
  }

  releaseById(containerId: string, ifname: string): string[] {
    const ips = this.getById(containerId, ifname);
    for (const ip of ips) this.release(ip);
    return ips;
  }

  release(ip: string): void {
    try { unlinkSync(path.join(this.dir, ip)); } catch (e) {
      if (errnoOf(e) !== 'ENOENT') throw new IoError(`cannot release ${ip}: ${(e as Error).message}`, { cause: e });
    }
  }
}
