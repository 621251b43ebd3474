// Control-plane errors: one hierarchy with stable `code` strings, so logs, metrics and
// podnetd can tell an invalid Kubernetes object from a failed sync without parsing messages.

/** Base class of every control-plane error; `code` is stable across releases. */
export class ControlError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A Kubernetes object failed validation; `field` is the JSON path of the offending field. */
export class InvalidObjectError extends ControlError {
  readonly kind: string;
  readonly object: string;
  readonly field: string;
  readonly reason: string;
  constructor(kind: string, object: string, field: string, reason: string) {
    super('CONTROL_INVALID_OBJECT', `${kind} ${object || '(unnamed)'}: ${field}: ${reason}`);
    this.kind = kind;
    this.object = object;
    this.field = field;
    this.reason = reason;
  }
}

/** A manifest document could not be parsed (YAML/JSON syntax). Non-fatal: the document is skipped. */
export class ManifestParseError extends ControlError {
  readonly file: string;
  readonly doc: number;
  constructor(file: string, doc: number, reason: string) {
    super('CONTROL_MANIFEST_PARSE', `${file} document ${doc}: ${reason}`);
    this.file = file;
    this.doc = doc;
  }
}

/** Programming the engine failed; the next sync is a full one. */
export class SyncError extends ControlError {
  constructor(message: string, cause: unknown) {
    super('CONTROL_SYNC_FAILED', message, { cause });
  }
}

/** A source (manifest directory, API informer) could not be read; it retries by itself. */
export class SourceError extends ControlError {
  constructor(message: string, cause?: unknown) {
    super('CONTROL_SOURCE_FAILED', message, { cause });
  }
}
