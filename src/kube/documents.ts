// Objects out of one manifest file, one at a time, for the manifest source (manifest.ts): a JSON
// file through JSON.parse (a YAML parser builds a node per token: a 20 MB `kubectl get -o json`
// dump cost gigabytes that way); YAML as a stream, one document composed at a time (never the
// whole file's documents at once); a List, JSON or YAML, item by item, each item released
// once handed over. Syntax errors are reported per document; the others still come through.
import { Composer, isMap, isSeq, LineCounter, Parser, type Document } from 'yaml';
import { isList } from './objects';

/** One object (or one unreadable document) of a file. */
export interface ManifestItem {
  /** Document index in the file (0 for a JSON file). */
  doc: number;
  /** The object; for a syntax error whatever could be read of the document (maybe undefined). */
  object: unknown;
  /** Field path prefix of a List's item ("items[3]."), '' otherwise. */
  prefix: string;
  /** Set when the document could not be parsed: its first error and line. */
  error?: { message: string; line?: number };
}

/**
 * Calls `each` for every object of a file's text, in order. Empty documents are skipped.
 * `json` tries JSON.parse first; a file that is not valid JSON goes through the YAML path
 * (which reads JSON too, and reports errors with a line).
 */
export function forEachObject(text: string, json: boolean, each: (item: ManifestItem) => void): void {
  if (json) {
    let parsed: unknown;
    let ok = false;
    try { parsed = JSON.parse(text); ok = true; } catch { /* reported by the YAML path with a line number */ }
    if (ok) {
      if (parsed !== null && parsed !== undefined) expand(0, parsed, each);
      return;
    }
  }
  forEachYamlDocument(text, each);
}

/** A List's items one by one (each dropped from the List once handed over), else the object. */
function expand(doc: number, o: unknown, each: (item: ManifestItem) => void): void {
  if (!isList(o)) {
    each({ doc, object: o, prefix: '' });
    return;
  }
  const items = o.items;
  for (let i = 0; i < items.length; i++) {
    const x = items[i];
    items[i] = undefined; // the caller keeps only what it trims out of it
    each({ doc, object: x, prefix: `items[${i}].` });
  }
}

function forEachYamlDocument(text: string, each: (item: ManifestItem) => void): void {
  const lines = new LineCounter();
  const parser = new Parser(lines.addNewLine);
  const composer = new Composer();
  let doc = 0;
  for (const d of composer.compose(parser.parse(text))) {
    const i = doc++;
    if (d.errors.length) {
      let obj: unknown;
      try { obj = d.toJS(); } catch { obj = undefined; }
      const e = d.errors[0];
      const line = e.pos?.[0] !== undefined ? lines.linePos(e.pos[0]).line : undefined;
      each({ doc: i, object: obj, prefix: '', error: { message: e.message.split('\n')[0], ...(line ? { line } : {}) } });
      continue;
    }
    if (!yamlList(i, d, each)) {
      const obj = d.toJS();
      if (obj !== null && obj !== undefined) expand(i, obj, each);
    }
  }
}

/**
 * A YAML List document converted item by item from its syntax tree, so the whole List never
 * exists as one JS value. False when the document is not a List.
 */
function yamlList(doc: number, d: Document.Parsed, each: (item: ManifestItem) => void): boolean {
  const root = d.contents;
  if (!isMap(root)) return false;
  const kind: unknown = root.get('kind');
  const items: unknown = root.get('items', true);
  if (typeof kind !== 'string' || !kind.endsWith('List') || !isSeq(items)) return false;
  for (let i = 0; i < items.items.length; i++) {
    const node = items.items[i] as { toJS?: (doc: Document) => unknown } | null;
    items.items[i] = null;
    const o = node && typeof node.toJS === 'function' ? node.toJS(d) : node;
    each({ doc, object: o, prefix: `items[${i}].` });
  }
  return true;
}
