// The sandbox every privileged test builds its namespaces in: created per test, destroyed in the
// test's teardown. Where network namespaces cannot be built here the test fails with the reason
// (the tap-level `requires` has already skipped it where root is missing and that is allowed).
import type { Test } from 'tap';
import { Sandbox, sandboxUnavailable, type Pod } from '../../src/sandbox';

/** A fresh sandbox destroyed after `t`; null (and `t` failed) when namespaces cannot be built here. */
export async function sandboxFor(t: Test): Promise<Sandbox | null> {
  const why = await sandboxUnavailable();
  if (why) { t.fail(why); return null; }
  const sb = await Sandbox.create();
  t.teardown(() => sb.destroy());
  return sb;
}

/** A client pod, then `n` endpoint pods ep1, ep2, …, each running `serve` before this resolves. */
export async function clientAndEndpoints(sb: Sandbox, n: number, serve: (ep: Pod) => Promise<unknown>): Promise<{ client: Pod; eps: Pod[] }> {
  const client = await sb.addPod('client');
  const eps: Pod[] = [];
  for (let i = 1; i <= n; i++) eps.push(await sb.addPod(`ep${i}`));
  for (const p of eps) await serve(p);
  return { client, eps };
}
