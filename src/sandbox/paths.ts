// Where the repository (and its compiled dist/) is, whether we run from src/ (ts-node under tap)
// or from dist/src/ (the demo, podnetd).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SandboxError } from './errors';

export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'podnet') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new SandboxError('SANDBOX_NOT_BUILT', `package.json of podnet not found above ${__dirname}`);
    dir = up;
  }
}

/** A compiled file under dist/, e.g. distFile('src/sandbox/agent.js'); fails if not built. */
export function distFile(rel: string): string {
  const f = path.join(repoRoot(), 'dist', rel);
  if (!existsSync(f)) throw new SandboxError('SANDBOX_NOT_BUILT', `${f} is missing: run \`npx tsc -p .\` first`);
  return f;
}
