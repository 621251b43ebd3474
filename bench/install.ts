// The podnet build a benchmark run measures, frozen for the whole invocation. Other engineers
// rebuild the addon and recompile dist/ on this machine while a run goes on; a rebuild mid-run
// would delete the addon under podnetd or measure two engines in one table. So podnetd always
// runs from a private copy:
//   - "working-tree" (default): dist/src, bin/podnetd and the built addon copied as they are;
//   - "head" (--build-head, or --build REV for another commit): `git archive` of that commit
//     compiled from scratch (tsc + node-gyp), so the figures belong to a commit, whatever
//     state the working tree is in.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../src/sandbox/paths';

export interface PodnetInstall {
  source: 'working-tree' | 'head';
  root: string;
  commit: string;
  /** Working tree had uncommitted changes (only meaningful for "working-tree"). */
  dirty: boolean;
  addonSha256: string;
  addonBuiltAt: string;
}

let dir: string | undefined;

function git(args: string[]): string {
  return execFileSync('git', args, { cwd: repoRoot(), encoding: 'utf8' }).trim();
}

async function waitFor(file: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!existsSync(file)) {
    if (Date.now() > until) throw new Error(`${file} is missing: run \`npm run build\``);
    await new Promise((r) => setTimeout(r, 2000));
  }
  await new Promise((r) => setTimeout(r, 1000)); // a file that just appeared may still be written
}

/** `rev` (with source "head"): any git revision, HEAD by default. */
export async function prepareInstall(source: PodnetInstall['source'], log: (m: string) => void, rev = 'HEAD'): Promise<PodnetInstall> {
  const repo = repoRoot();
  const commit = git(['rev-parse', '--verify', `${rev}^{commit}`]); // resolved first: HEAD may move meanwhile
  dir = mkdtempSync(path.join(os.tmpdir(), 'podnet-bench-install-'));
  const addonRel = 'build/Release/podnet_engine.node';
  if (source === 'working-tree') {
    await waitFor(path.join(repo, addonRel), 180_000);
    for (const f of ['package.json', 'binding.gyp', 'bin/podnetd']) {
      mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      copyFileSync(path.join(repo, f), path.join(dir, f));
    }
    cpSync(path.join(repo, 'dist/src'), path.join(dir, 'dist/src'), { recursive: true });
    mkdirSync(path.join(dir, 'build/Release'), { recursive: true });
    copyFileSync(path.join(repo, addonRel), path.join(dir, addonRel));
    symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
  } else {
    log(`building podnet ${commit.slice(0, 10)} (${rev}) from git in ${dir}`);
    execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C "${dir}"`], { cwd: repo });
    symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
    // npx reads the user's npm config (nodedir) as `npm run build` would.
    execFileSync('npx', ['--no-install', 'node-gyp', 'rebuild', '--loglevel=error'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync('npx', ['--no-install', 'tsc', '-p', '.'], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
  }
  const addon = path.join(dir, addonRel);
  if (!existsSync(path.join(dir, 'dist/src/daemon/main.js'))) throw new Error(`no podnetd in ${dir}`);
  return {
    source,
    root: dir,
    commit: commit.slice(0, 10),
    dirty: source === 'working-tree' && git(['status', '--porcelain', '--', 'src', 'native', 'bin', 'binding.gyp']) !== '',
    addonSha256: createHash('sha256').update(readFileSync(addon)).digest('hex').slice(0, 16),
    addonBuiltAt: statSync(addon).mtime.toISOString(),
  };
}

export function removeInstall(): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
}
