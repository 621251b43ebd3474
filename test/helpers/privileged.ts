// How a test that needs something from the machine (root, a tool, a build) reacts when it
// is missing: in CI (CI=true) it fails, because a silent skip would hide a broken setup;
// elsewhere it skips with the reason.
import { execFileSync } from 'node:child_process';

export const inCI = process.env.CI === 'true' || process.env.CI === '1';

/** Returns the reason the requirement is not met, or undefined when it is. */
export function missing(checks: Record<string, () => boolean>): string | undefined {
  for (const [what, ok] of Object.entries(checks)) {
    let good = false;
    try { good = ok(); } catch { good = false; }
    if (!good) return what;
  }
  return undefined;
}

export function haveCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const isRoot = () => process.getuid?.() === 0;

/** tap options for t.test: skip locally, run (and fail) in CI. */
export function requires(checks: Record<string, () => boolean>): { skip?: string } {
  const why = missing(checks);
  if (!why || inCI) return {};
  return { skip: `needs ${why}` };
}
