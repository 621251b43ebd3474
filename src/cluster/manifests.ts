// Node objects from a manifest directory (the sandbox's one directory of Nodes, Services,
// EndpointSlices and policies): every *.yaml/*.yml/*.json file, multi-document, v1 Nodes kept.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { clusterNodeFromV1, type ClusterNode } from './nodes';

export function nodesFromManifestDir(dir: string): ClusterNode[] {
  const out: ClusterNode[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (f.startsWith('.') || !/\.(ya?ml|json)$/.test(f)) continue;
    for (const doc of parseAllDocuments(readFileSync(path.join(dir, f), 'utf8'))) {
      const o = doc.toJS() as Record<string, unknown> | null;
      if (o && o.kind === 'Node' && o.apiVersion === 'v1') out.push(clusterNodeFromV1(o));
    }
  }
  return out;
}
