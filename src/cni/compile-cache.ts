// A V8 code cache for the plugin's own modules and netlink's (Node 20 has no
// module.enableCompileCache, which arrived in 22.1). Every pod pays the plugin's start-up, and
// compiling ~600 KB of JavaScript is a large part of it. Each module is compiled through
// vm.Script with the cached data of the previous run; modules that had none get theirs written
// at exit, after they ran, so the lazily compiled functions they used are in it too.
// The cache lives next to the code it caches (<install>/dist/.cni-code-cache) unless
// PODNET_CNI_CACHE says otherwise; any failure (read-only install, full disk) just compiles.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

interface ModuleInternals {
  _compile(content: string, filename: string): unknown;
}

export function enableCompileCache(root: string, dir = process.env.PODNET_CNI_CACHE || path.join(root, 'dist/.cni-code-cache')): void {
  const proto = (Module as unknown as { prototype: ModuleInternals }).prototype;
  const original = proto._compile;
  const pending: { file: string; script: vm.Script }[] = [];
  // V8 only checks the source length against cached data: mtime and size go in the key so an
  // edited file can never run stale code.
  const key = (filename: string, content: string) => {
    let stamp = '';
    try { const st = statSync(filename); stamp = `${st.mtimeMs}:${st.size}:${st.ino}`; } catch { /* key by content only */ }
    // File name from the path itself (no hashing: node:crypto alone costs more than it saves).
    const flat = filename.replace(/[^A-Za-z0-9._-]/g, '_').slice(-120);
    return path.join(dir, `${flat}.${process.version}.${stamp.replace(/[^0-9]/g, '_')}.${content.length}`);
  };

  proto._compile = function (this: Module & ModuleInternals, content: string, filename: string): unknown {
    if (!filename.startsWith(root)) return original.call(this, content, filename);
    const file = key(filename, content);
    let cachedData: Buffer | undefined;
    try { cachedData = readFileSync(file); } catch { /* first run */ }
    const wrapper = Module.wrap(content);
    const script = new vm.Script(wrapper, { filename, cachedData, importModuleDynamically: undefined });
    if (!cachedData || script.cachedDataRejected) pending.push({ file, script });
    const fn = script.runInThisContext({ displayErrors: true }) as (...a: unknown[]) => unknown;
    const mod = this as unknown as { exports: unknown; require: NodeJS.Require };
    const req = Module.createRequire(filename);
    return fn.call(mod.exports, mod.exports, req, mod, filename, path.dirname(filename));
  };

  process.once('exit', () => {
    if (pending.length === 0) return;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      for (const { file, script } of pending) {
        const tmp = `${file}.${process.pid}`;
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, file); // atomic: concurrent plugins never read a torn file
      }
    } catch { /* read-only or full: compile next time */ }
  });
}
