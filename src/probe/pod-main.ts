// Entry of the child `podnetctl probe` starts inside the pod's network namespace (src/netns/
// does the entering): argv[2] is the PodProbeQuery as JSON; stdout gets the PodProbeResult as
// one JSON line, stderr a message and exit 1 when the probe could not be sent.
import { probeFromHere, type PodProbeQuery } from './pod';

async function main(): Promise<number> {
  try {
    const q = JSON.parse(process.argv[2] ?? '') as PodProbeQuery;
    const r = await probeFromHere(q);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 1;
  }
}

void main().then((code) => { process.exitCode = code; });
