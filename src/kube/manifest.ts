// Manifest-directory source (podnetd's embedded default): multi-document YAML/JSON files of
// Services, EndpointSlices and Nodes in their API shape → validated → ObjectSink. The directory
// is watched (debounced); a reload sends only the objects that changed. An invalid document is
// logged once (file, document index, field, reason) and skipped; if it still names an object
// that was served before, that object's last good version stays (as the API server keeps the
// old object when an update is rejected). Everything else keeps working.
import fs from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { parseAllDocuments } from 'yaml';
import type { ObjectSink } from '../services/control-plane';
import { InvalidObjectError, ManifestParseError } from './errors';
import type { SyncMetrics } from '../services/metrics';
import { type EndpointSliceInfo, fingerprint, type NodeInfo, type ServiceInfo } from '../services/objects';
import { objectKind, validateEndpointSlice, validateNode, validateService } from '../services/validate';

export interface ManifestSourceOptions {
  dir: string;
  sink: ObjectSink;
  logger?: Logger;
  metrics?: SyncMetrics;
  /** Quiet time after the last file event before reloading. Default 100 ms. */
  debounceMs?: number;
  /** Full rescan even without events (missed events, directory created later). Default 30 s; 0 = off. */
  rescanIntervalMs?: number;
  /** Namespace for objects that name none, as kubectl apply does. Default "default". */
  defaultNamespace?: string;
  /** Kinds the service control plane does not use, handed to another consumer (NetworkPolicy, Pod, Namespace). */
  extra?: ManifestKindHook;
  /**
   * Consumers that read objects in addition to whoever owns their kind (cross-node routing reads
   * every v1 Node's podCIDRs and InternalIPs, which the service plane's NodeInfo drops). Each
   * object they parse becomes an entry of its own (kind as they name it), diffed like the others.
   */
  observers?: ManifestKindHook[];
}

/**
 * Another consumer of the manifest directory: it recognises and validates its own kinds
 * (throwing InvalidObjectError for a bad one) and receives their changes, diffed like ours.
 */
export interface ManifestKindHook {
  kindOf(o: unknown): string | undefined;
  parse(o: unknown, defaultNamespace: string): { kind: string; key: string; info: unknown } | undefined;
  set(kind: string, key: string, info: unknown): void;
  /** Called once after the first load, like ObjectSink.setInitialized. */
  setInitialized?(): void;
}

type Parsed =
  | { kind: 'Service'; key: string; info: ServiceInfo }
  | { kind: 'EndpointSlice'; key: string; info: EndpointSliceInfo | null }
  | { kind: 'Node'; key: string; info: NodeInfo }
  | { kind: 'extra'; extraKind: string; key: string; info: unknown; hook?: ManifestKindHook };

interface Entry {
  readonly id: string; // kind + key
  readonly parsed: Parsed;
  readonly print: string;
  readonly file: string;
}

interface FileState {
  text: string;
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

/** Reads the kind and "namespace/name" an object claims, without validating it (for error logs and keep-last-good). */
function identify(o: unknown, defaultNamespace: string, extra?: ManifestKindHook): { kind?: string; id?: string; name?: string } {
  if (!o || typeof o !== 'object') return {};
  const { kind, metadata } = o as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  const name = typeof metadata?.name === 'string' ? metadata.name : undefined;
  const k = objectKind(o) ?? extra?.kindOf(o);
  if (!k || !name) return { kind: typeof kind === 'string' ? kind : undefined, name };
  const clusterScoped = k === 'Node' || k === 'Namespace';
  const key = clusterScoped ? name : `${typeof metadata?.namespace === 'string' ? metadata.namespace : defaultNamespace}/${name}`;
  return { kind: k, id: `${k}:${key}`, name: key };
}

/** Watches a directory of manifests and feeds what it finds into an ObjectSink. */
export class ManifestSource {
  private readonly log: Logger;
  private readonly debounceMs: number;
  private readonly rescanMs: number;
  private readonly ns: string;
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
  }

  /** Loads the directory once, marks the sink initialized, then watches for changes. */
  async start(): Promise<ReloadReport> {
    this.stopped = false;
    const r = await this.reload();
    this.opts.sink.setInitialized();
    this.opts.extra?.setInitialized?.();
    for (const h of this.opts.observers ?? []) h.setInitialized?.();
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

  /** Re-reads the directory and sends the differences to the sink. Concurrent calls merge. */
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
      const old = this.files.get(file);
      if (old && old.text === text) { next.set(file, old); continue; }
      const st = this.parseFile(file, text);
      invalid += st.invalidCount;
      next.set(file, st.state);
    }
    this.files = next;
    return this.publish(invalid);
  }

  /** Parses one file into entries; logs one line per invalid document. */
  private parseFile(file: string, text: string): { state: FileState; invalidCount: number } {
    const rel = path.basename(file);
    const entries: Entry[] = [];
    const keep: string[] = [];
    let invalidCount = 0;
    const bad = (doc: number, obj: unknown, err: Error, field?: string) => {
      invalidCount++;
      this.opts.metrics?.invalidObjects.inc();
      const who = identify(obj, this.ns, this.opts.extra);
      if (who.id) keep.push(who.id);
      const e = err as Partial<InvalidObjectError>;
      this.log.warn({
        file: rel, doc, code: (err as { code?: string }).code, kind: who.kind, object: who.name,
        field: field ?? e.field, reason: e.reason ?? err.message, keptLastGood: who.id ? this.served.has(who.id) : false,
      }, 'invalid manifest document skipped');
    };
    const docs = parseAllDocuments(text);
    const list = Array.isArray(docs) ? docs : [];
    list.forEach((d, doc) => {
      let obj: unknown;
      try { obj = d.toJS(); } catch { obj = undefined; }
      if (d.errors.length) {
        const e = d.errors[0];
        const line = e.linePos?.[0]?.line;
        bad(doc, obj, new ManifestParseError(rel, doc, e.message.split('\n')[0]), line ? `line ${line}` : '(syntax)');
        return;
      }
      if (obj === null || obj === undefined) return; // empty document between ---
      const items = this.expandList(obj);
      items.forEach(({ o, prefix }) => {
        try {
          const p = this.parseObject(o);
          if (!p) {
            this.log.debug({ file: rel, doc, kind: (o as { kind?: unknown })?.kind }, 'document kind not used by podnet; ignored');
            return;
          }
          const kind = p.kind === 'extra' ? p.extraKind : p.kind;
          entries.push({ id: `${kind}:${p.key}`, parsed: p, print: fingerprint(p.info), file: rel });
        } catch (err) {
          if (err instanceof InvalidObjectError) bad(doc, o, err, prefix + err.field);
          else bad(doc, o, err as Error);
        }
        for (const hook of this.opts.observers ?? []) {
          try {
            const x = hook.parse(o, this.ns);
            if (x) entries.push({ id: `${x.kind}:${x.key}`, parsed: { kind: 'extra', extraKind: x.kind, key: x.key, info: x.info, hook }, print: fingerprint(x.info), file: rel });
          } catch (err) {
            const e = err as Partial<InvalidObjectError>;
            bad(doc, o, err as Error, e.field !== undefined ? prefix + e.field : undefined);
            // Keep the observer's last good version too, not only the owner's.
            const k = hook.kindOf(o), who = identify(o, this.ns);
            if (k && who.name) keep.push(`${k}:${who.name}`);
          }
        }
      });
    });
    return { state: { text, entries, keep }, invalidCount };
  }

  /** A List (kubectl get -o yaml) expands to its items; anything else is one object. */
  private expandList(o: unknown): Array<{ o: unknown; prefix: string }> {
    const r = o as { kind?: unknown; items?: unknown };
    if (typeof r === 'object' && typeof r.kind === 'string' && r.kind.endsWith('List') && Array.isArray(r.items)) {
      return r.items.map((x, i) => ({ o: x, prefix: `items[${i}].` }));
    }
    return [{ o, prefix: '' }];
  }

  private parseObject(o: unknown): Parsed | undefined {
    switch (objectKind(o)) {
      case 'Service': { const info = validateService(o, this.ns); return { kind: 'Service', key: info.key, info }; }
      case 'EndpointSlice': {
        const info = validateEndpointSlice(o, this.ns);
        const md = (o as { metadata: { name: string; namespace?: string } }).metadata;
        return { kind: 'EndpointSlice', key: `${md.namespace ?? this.ns}/${md.name}`, info };
      }
      case 'Node': { const info = validateNode(o); return { kind: 'Node', key: info.name, info }; }
      default: {
        const x = this.opts.extra?.parse(o, this.ns);
        return x ? { kind: 'extra', extraKind: x.kind, key: x.key, info: x.info } : undefined;
      }
    }
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
    const sink = this.opts.sink;
    for (const [id, e] of merged) {
      const old = this.served.get(id);
      if (old && old.print === e.print) continue;
      changed++;
      const p = e.parsed;
      if (p.kind === 'Service') sink.setService(p.key, p.info);
      else if (p.kind === 'EndpointSlice') sink.setEndpointSlice(p.key, p.info ?? undefined);
      else if (p.kind === 'Node') sink.setNode(p.key, p.info);
      else (p.hook ?? this.opts.extra)?.set(p.extraKind, p.key, p.info);
    }
    for (const [id, e] of this.served) {
      if (merged.has(id)) continue;
      removed++;
      const p = e.parsed;
      if (p.kind === 'Service') sink.setService(p.key, undefined);
      else if (p.kind === 'EndpointSlice') sink.setEndpointSlice(p.key, undefined);
      else if (p.kind === 'Node') sink.setNode(p.key, undefined);
      else (p.hook ?? this.opts.extra)?.set(p.extraKind, p.key, undefined);
    }
    this.served = merged;
    const r = { files: this.files.size, objects: merged.size, changed, removed, invalid };
    if (changed || removed || invalid) this.log.info(r, 'manifests reloaded');
    return r;
  }
}
