// A command as a script of named steps, each registering its own undo (the reference bridge's
// `success` flag pattern): when a later step throws, the undos run newest first, so a failed
// ADD leaves no veth and no reservation behind. Undo failures are logged, never rethrown:
// the original error is the one the runtime must see.
import type { Log } from './log';

export class Steps {
  private readonly undos: { name: string; fn: () => unknown }[] = [];
  constructor(private readonly log: Log) {}

  /** Runs one step; `undo` is registered only when the step succeeded. */
  async run<T>(name: string, fn: () => T | Promise<T>, undo?: (v: T) => unknown): Promise<T> {
    this.log.debug({ step: name }, 'step');
    const v = await fn();
    if (undo) this.undos.push({ name, fn: () => undo(v) });
    return v;
  }

  async rollback(): Promise<void> {
    while (this.undos.length) {
      const u = this.undos.pop()!;
      try { await u.fn(); } catch (e) { this.log.warn({ step: u.name, err: (e as Error).message }, 'undo failed'); }
    }
  }
}
