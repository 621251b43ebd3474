// Manifest-directory source (podnetd's embedded default): YAML/JSON files of Kubernetes objects
// in their API shape → each object handed to every plane subscribed to its kind → trimmed and
// validated by that plane → diffed → the plane's sink. The directory is watched (debounced); a
// reload sends only the objects that changed. An invalid document is logged once (file,
// document index, field, reason) and skipped; if it still names an object that was served
// before, that object's last good version stays (as the API server keeps the old object when an
// update is rejected). Everything else keeps working.
//
// Memory: files are read one at a time and parsed one document at a time (documents.ts); a
// List (`kubectl get -o json|yaml`) is taken item by item; only what each plane's parse keeps
// (its normalized objects) outlives the file, never the parsed documents or the file's text.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { forEachObject } from './documents';
import { InvalidObjectError, ManifestParseError } from './errors';
import { claimedKey, fingerprint } from './objects';

/**
 * A plane's subscription to the manifest directory: the kinds it reads, how it trims and
 * validates one of them (throwing InvalidObjectError for a bad one) and where the changes go.
 */
export interface ManifestSubscription {
  /** Names the plane in logs and keeps its entries apart from another plane's of the same kind. */
  readonly plane: string;
  /** The [apiVersion, kind] pairs it reads. */
  readonly kinds: ReadonlyArray<readonly [apiVersion: string, kind: string]>;
  /** Trims and validates one object of a subscribed kind; undefined = not for this plane after all. */
  parse(o: unknown, defaultNamespace: string): { kind: string; key: string; info: unknown } | undefined;
  /** An object appeared or changed (info) or left the directory (undefined). */
  set(kind: string, key: string, info: unknown): void;
  /** Called once after the first load. */
  setInitialized?(): void;
}

export interface ManifestSourceOptions {
  dir: string;
  /** The planes reading the directory, in the order they are told about changes. */
  subscriptions: readonly ManifestSubscription[];
  logger?: Logger;
  /** Called once per invalid document (a metrics counter). */
  onInvalid?: () => void;
  /**
   * Log invalid documents at warn (default). false: at debug — for a second reader of a directory
   * that another source already reports, so an operator sees one line per bad document.
   */
  reportInvalid?: boolean;
  /** Quiet time after the last file event before reloading. Default 100 ms. */
  debounceMs?: number;
  /** Full rescan even without events (missed events, directory created later). Default 30 s; 0 = off. */
  rescanIntervalMs?: number;
  /** Namespace for objects that name none, as kubectl apply does. Default "default". */
  defaultNamespace?: string;
}

interface Entry {
  readonly id: string; // plane + kind + key
  readonly sub: ManifestSubscription;
  readonly kind: string;
  readonly key: string;
  readonly info: unknown;
  readonly print: string;
  readonly file: string;
}

interface FileState {
  /** Digest of the text: an unchanged file is not parsed again (and its text is not kept). */
  digest: string;
  entries: Entry[];
  /** Ids named by invalid documents: their last good version is kept. */
  keep: string[];
}

/** Summary of one reload, for tests and logs. */
export interface ReloadReport {
  files: number;
  objects: number;
  changed: number;
  removed: number;
  invalid: number;
}

const MANIFEST_EXT = /\.(ya?ml|json)$/i;

/** Watches a directory of manifests and feeds what it finds to the subscribed planes. */
export class ManifestSource {
  private readonly log: Logger;
  private readonly debounceMs: number;
  private readonly rescanMs: number;
  private readonly ns: string;
  /** "apiVersion kind" → the subscriptions reading it. */
  private readonly byKind = new Map<string, ManifestSubscription[]>();
  private files = new Map<string, FileState>();
  private served = new Map<string, Entry>();
  private watcher: fs.FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private rescan: NodeJS.Timeout | undefined;
  private reloading: Promise<ReloadReport> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly opts: ManifestSourceOptions) {
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'manifest-source', dir: opts.dir });
    this.debounceMs = opts.debounceMs ?? 100;
    this.rescanMs = opts.rescanIntervalMs ?? 30_000;
    this.ns = opts.defaultNamespace ?? 'default';
    for (const sub of opts.subscriptions) {
      for (const [apiVersion, kind] of sub.kinds) {
        const k = `${apiVersion} ${kind}`;
        const list = this.byKind.get(k);
        if (list) list.push(sub); else this.byKind.set(k, [sub]);
      }
    }
  }

  /** Loads the directory once, tells every plane the first load is complete, then watches for changes. */
  async start(): Promise<ReloadReport> {
    this.stopped = false;
    const r = await this.reload();
    for (const sub of this.opts.subscriptions) sub.setInitialized?.();
    this.watch();
    if (this.rescanMs > 0) {
      this.rescan = setInterval(() => { this.watch(); this.trigger(); }, this.rescanMs);
      this.rescan.unref();
    }
    return r;
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = undefined;
    clearTimeout(this.debounce);
    clearInterval(this.rescan);
  }

  /** (Re)opens the directory watch; a missing directory is retried on the next rescan. */
  private watch(): void {
    if (this.watcher || this.stopped) return;
    try {
      this.watcher = fs.watch(this.opts.dir, { persistent: false }, () => this.trigger());
      this.watcher.on('error', (err) => {
        this.log.warn({ err }, 'directory watch failed; relying on rescans until it can be reopened');
        this.watcher?.close();
        this.watcher = undefined;
        this.trigger();
      });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot watch the manifest directory yet');
    }
  }

  /** Schedules a debounced reload. */
  private trigger(): void {
    if (this.stopped) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => { void this.reload(); }, this.debounceMs);
    this.debounce.unref();
  }

  /** Re-reads the directory and sends the differences to the planes. Concurrent calls merge. */
  reload(): Promise<ReloadReport> {
    if (this.reloading) {
      this.again = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      let r: ReloadReport;
      do {
        this.again = false;
        r = await this.reloadOnce();
      } while (this.again && !this.stopped);
      this.reloading = undefined;
      return r;
    })();
    return this.reloading;
  }

  private async reloadOnce(): Promise<ReloadReport> {
    let names: string[] = [];
    try {
      names = (await fs.promises.readdir(this.opts.dir)).filter((n) => MANIFEST_EXT.test(n) && !n.startsWith('.')).sort();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot read the manifest directory; serving what was last loaded');
      return { files: this.files.size, objects: this.served.size, changed: 0, removed: 0, invalid: 0 };
    }
    const next = new Map<string, FileState>();
    let invalid = 0;
    for (const name of names) {
      const file = path.join(this.opts.dir, name);
      let text: string;
      try {
        text = await fs.promises.readFile(file, 'utf8');
      } catch {
        continue; // removed between readdir and read; the next event reloads again
      }
      const digest = createHash('sha256').update(text).digest('base64');
      const old = this.files.get(file);
      if (old && old.digest === digest) { next.set(file, old); continue; }
      const st = this.parseFile(file, text, digest);
      invalid += st.invalidCount;
      next.set(file, st.state);
    }
    this.files = next;
    return this.publish(invalid);
  }

  /** The subscriptions reading an object's apiVersion and kind. */
  private subsOf(o: unknown): ManifestSubscription[] | undefined {
    if (!o || typeof o !== 'object') return undefined;
    const { apiVersion, kind } = o as { apiVersion?: unknown; kind?: unknown };
    return this.byKind.get(`${String(apiVersion)} ${String(kind)}`);
  }

  /** Parses one file into entries; logs one line per invalid document (and plane). */
  private parseFile(file: string, text: string, digest: string): { state: FileState; invalidCount: number } {
    const rel = path.basename(file);
    const entries: Entry[] = [];
    const keep: string[] = [];
    let invalidCount = 0;
    /** An invalid document: counted, logged, and the ids it names keep their last good version. */
    const bad = (doc: number, obj: unknown, err: Error, field: string | undefined, subs: readonly ManifestSubscription[] | undefined) => {
      invalidCount++;
      this.opts.onInvalid?.();
      const who = claimedKey(obj, this.ns);
      const ids = who ? (subs ?? []).map((s) => `${s.plane}:${who.kind}:${who.key}`) : [];
      keep.push(...ids);
      const e = err as Partial<InvalidObjectError>;
      this.log[this.opts.reportInvalid === false ? 'debug' : 'warn']({
        file: rel, doc, code: (err as { code?: string }).code, kind: who?.kind ?? kindOf(obj), object: who?.key ?? nameOf(obj),
        field: field ?? e.field, reason: e.reason ?? err.message, keptLastGood: ids.some((id) => this.served.has(id)),
      }, 'invalid manifest document skipped');
    };
    forEachObject(text, rel.toLowerCase().endsWith('.json'), (item) => {
      if (item.error) {
        const { line } = item.error;
        bad(item.doc, item.object, new ManifestParseError(rel, item.doc, item.error.message), line ? `line ${line}` : '(syntax)', this.subsOf(item.object));
        return;
      }
      const o = item.object;
      const subs = this.subsOf(o);
      if (!subs) {
        this.log.debug({ file: rel, doc: item.doc, kind: kindOf(o) }, 'document kind not used by podnet; ignored');
        return;
      }
      for (const sub of subs) {
        try {
          const p = sub.parse(o, this.ns);
          if (p) entries.push({ id: `${sub.plane}:${p.kind}:${p.key}`, sub, kind: p.kind, key: p.key, info: p.info, print: fingerprint(p.info), file: rel });
        } catch (err) {
          const e = err as Partial<InvalidObjectError>;
          bad(item.doc, o, err as Error, e.field !== undefined ? item.prefix + e.field : undefined, [sub]);
        }
      }
    });
    return { state: { digest, entries, keep }, invalidCount };
  }

  /** Merges all files (first file in name order wins a duplicate) and sends the difference. */
  private publish(invalid: number): ReloadReport {
    const merged = new Map<string, Entry>();
    for (const st of this.files.values()) {
      for (const e of st.entries) {
        const first = merged.get(e.id);
        if (first) {
          if (first.file !== e.file || first.print !== e.print) this.log.warn({ object: e.id, file: e.file, winner: first.file }, 'object defined twice; the first definition wins');
          continue;
        }
        merged.set(e.id, e);
      }
    }
    for (const st of this.files.values()) {
      for (const id of st.keep) {
        const last = this.served.get(id);
        if (last && !merged.has(id)) merged.set(id, last);
      }
    }
    let changed = 0;
    let removed = 0;
    for (const [id, e] of merged) {
      const old = this.served.get(id);
      if (old && old.print === e.print) continue;
      changed++;
      e.sub.set(e.kind, e.key, e.info);
    }
    for (const [id, e] of this.served) {
      if (merged.has(id)) continue;
      removed++;
      e.sub.set(e.kind, e.key, undefined);
    }
    this.served = merged;
    const r = { files: this.files.size, objects: merged.size, changed, removed, invalid };
    if (changed || removed || invalid) this.log.info(r, 'manifests reloaded');
    return r;
  }
}

function kindOf(o: unknown): string | undefined {
  const k = (o as { kind?: unknown } | null)?.kind;
  return typeof k === 'string' ? k : undefined;
}

function nameOf(o: unknown): string | undefined {
  const n = (o as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  return typeof n === 'string' ? n : undefined;
}
