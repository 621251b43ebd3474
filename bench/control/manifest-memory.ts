// Memory and time to ready of the manifest source on a `kubectl get pods -A -o json` dump in the
// manifest directory, with the policy plane subscribed (the plane that reads Pods): peak RSS,
// heap kept once loaded, and the time from start to the first compiled policy tables. Each
// size runs in its own child process so peaks do not mix.
//
//   node --expose-gc dist/bench/control/manifest-memory.js [--pods 10000,50000] [--indent 4] [--old DIST]
//
// --old DIST also loads the same dump through an older build's manifest source (the dist/
// directory of a checkout from before src/kube existed: src/control/sources/manifest.js and
// its policy hook), for a before/after table in one run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const NODES = 100;

/** A v1 Pod as the API serves it (managedFields, status, a Deployment's owner, probes...). */
function pod(i: number): Record<string, unknown> {
  const ns = `team-${i % 40}`;
  const app = `app-${i % 500}`;
  const hash = (0x5f3c9a1 + i * 7919).toString(16).slice(0, 9);
  const name = `${app}-${hash}-${(i * 104729).toString(36).slice(-5)}`;
  const node = `node-${String.fromCharCode(97 + (i % 26))}${i % NODES}`;
  const ip = `10.${64 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}`;
  const ts = '2026-11-20T08:14:31Z';
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name, generateName: `${app}-${hash}-`, namespace: ns, uid: `6f1d2c3b-${hash.padEnd(8, '0')}-4a5b-9c8d-${String(i).padStart(12, '0')}`,
      resourceVersion: String(1_000_000 + i), creationTimestamp: ts,
      labels: { app, 'pod-template-hash': hash, tier: i % 3 ? 'backend' : 'frontend', 'app.kubernetes.io/part-of': 'shop' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': ts, 'prometheus.io/scrape': 'true' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${app}-${hash}`, uid: `0a1b2c3d-${hash.padEnd(8, '0')}`, controller: true, blockOwnerDeletion: true }],
      managedFields: [
        {
          manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', time: ts, fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': { 'f:generateName': {}, 'f:labels': { '.': {}, 'f:app': {}, 'f:pod-template-hash': {}, 'f:tier': {} }, 'f:ownerReferences': { '.': {}, [`k:{"uid":"0a1b2c3d-${hash}"}`]: {} } },
            'f:spec': { 'f:containers': { 'k:{"name":"main"}': { '.': {}, 'f:image': {}, 'f:imagePullPolicy': {}, 'f:name': {}, 'f:ports': { '.': {}, 'k:{"containerPort":8080,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {}, 'f:name': {}, 'f:protocol': {} } }, 'f:resources': { '.': {}, 'f:limits': {}, 'f:requests': {} } } }, 'f:dnsPolicy': {}, 'f:restartPolicy': {}, 'f:schedulerName': {}, 'f:terminationGracePeriodSeconds': {} },
          },
        },
        {
          manager: 'kubelet', operation: 'Update', apiVersion: 'v1', time: ts, fieldsType: 'FieldsV1', subresource: 'status',
          fieldsV1: { 'f:status': { 'f:conditions': { 'k:{"type":"Ready"}': { '.': {}, 'f:lastProbeTime': {}, 'f:lastTransitionTime': {}, 'f:status': {}, 'f:type': {} } }, 'f:containerStatuses': {}, 'f:hostIP': {}, 'f:phase': {}, 'f:podIP': {}, 'f:podIPs': { '.': {}, [`k:{"ip":"${ip}"}`]: { '.': {}, 'f:ip': {} } }, 'f:startTime': {} } },
        },
      ],
    },
    spec: {
      volumes: [{ name: 'kube-api-access', projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }, { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }], defaultMode: 420 } }],
      containers: [{
        name: 'main', image: `registry.example/shop/${app}:1.${i % 20}.0`,
        ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { name: 'metrics', containerPort: 9090, protocol: 'TCP' }],
        env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } }, { name: 'LOG_LEVEL', value: 'info' }],
        resources: { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
        volumeMounts: [{ name: 'kube-api-access', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
        readinessProbe: { httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 },
        terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: 'IfNotPresent',
      }],
      restartPolicy: 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst', serviceAccountName: 'default',
      nodeName: node, securityContext: {}, schedulerName: 'default-scheduler', priority: 0, enableServiceLinks: true, preemptionPolicy: 'PreemptLowerPriority',
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }, { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
    },
    status: {
      phase: 'Running',
      conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: ts })),
      hostIP: `192.168.${(i % NODES) >> 8}.${i % NODES}`, hostIPs: [{ ip: `192.168.0.${i % NODES}` }], podIP: ip, podIPs: [{ ip }], startTime: ts,
      containerStatuses: [{ name: 'main', state: { running: { startedAt: ts } }, lastState: {}, ready: true, restartCount: 0, image: `registry.example/shop/${app}:1.${i % 20}.0`, imageID: `registry.example/shop/${app}@sha256:${hash.repeat(7).slice(0, 64)}`, containerID: `containerd://${hash.repeat(8).slice(0, 64)}`, started: true }],
      qosClass: 'Burstable',
    },
  };
}

/**
 * Writes the dump as kubectl prints it (a List; --indent 4 is kubectl's layout, default 0 keeps
 * a 50k-pod dump under V8's largest string); returns its size in bytes.
 */
function writeDump(file: string, n: number, indent: number): number {
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, '{\n    "apiVersion": "v1",\n    "items": [\n');
  for (let i = 0; i < n; i++) {
    const text = indent ? JSON.stringify(pod(i), null, indent).replace(/^/gm, '        ') : JSON.stringify(pod(i));
    fs.writeSync(fd, text + (i + 1 < n ? ',\n' : '\n'));
  }
  fs.writeSync(fd, '    ],\n    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n');
  fs.closeSync(fd);
  return fs.statSync(file).size;
}

interface Figures { impl: string; pods: number; fileMB: number; readyMs: number; peakRssMB: number; heapAfterMB: number; loadedPods: number }

const fakeEngine = { setPolicy: () => ({ version: 1, flowsCut: 0 }) };

/** Child: loads `dir` through one implementation and prints its figures as one JSON line. */
async function child(impl: string, dir: string, pods: number, oldDist: string | undefined): Promise<void> {
  const t0 = performance.now();
  let loaded = 0;
  if (impl === 'new') {
    const { ManifestSource } = await import('../../src/kube/manifest');
    const { PolicyControl, policyManifestHook } = await import('../../src/policy/sources');
    const pc = new PolicyControl({ sink: fakeEngine as never, nodeName: 'node-a0', maxSyncIntervalMs: 3_600_000 });
    const src = new ManifestSource({ dir, subscriptions: [policyManifestHook(pc)], rescanIntervalMs: 0 });
    await src.start();
    pc.sync();
    loaded = pc.status().pods;
    src.stop();
    report(impl, pods, dir, t0, loaded, [src, pc]);
  } else {
    const base = path.resolve(oldDist as string);
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { ManifestSource } = require(path.join(base, 'src/control/sources/manifest.js'));
    const { PolicyControl, policyManifestHook } = require(path.join(base, 'src/policy/sources.js'));
    const pc = new PolicyControl({ sink: fakeEngine, nodeName: 'node-a0', maxSyncIntervalMs: 3_600_000 });
    const none = { setService() {}, setEndpointSlice() {}, setNode() {}, setInitialized() {} };
    const src = new ManifestSource({ dir, sink: none, extra: policyManifestHook(pc), rescanIntervalMs: 0 });
    await src.start();
    pc.sync();
    loaded = pc.status().pods;
    src.stop();
    report(impl, pods, dir, t0, loaded, [src, pc]);
  }
}

function report(impl: string, pods: number, dir: string, t0: number, loaded: number, keep: unknown[]): void {
  const readyMs = performance.now() - t0;
  (globalThis as { gc?: () => void }).gc?.();
  const f: Figures = {
    impl, pods, fileMB: fs.statSync(path.join(dir, 'pods.json')).size / 2 ** 20, readyMs,
    peakRssMB: process.resourceUsage().maxRSS / 1024, heapAfterMB: process.memoryUsage().heapUsed / 2 ** 20, loadedPods: loaded,
  };
  process.stdout.write(`${JSON.stringify(f)}\n`);
  void keep; // what is kept after loading stays alive until the figures are taken
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const childImpl = arg('child');
  if (childImpl) return child(childImpl, arg('dir') as string, Number(arg('n')), arg('old'));
  const sizes = (arg('pods') ?? '10000,50000').split(',').map(Number);
  const oldDist = arg('old');
  const rows: Figures[] = [];
  for (const n of sizes) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podnet-manifest-bench-'));
    try {
      const bytes = writeDump(path.join(dir, 'pods.json'), n, Number(arg('indent') ?? 0));
      process.stderr.write(`${n} pods: ${(bytes / 2 ** 20).toFixed(1)} MB dump\n`);
      for (const impl of oldDist ? ['old', 'new'] : ['new']) {
        const r = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', __filename, '--child', impl, '--dir', dir, '--n', String(n), ...(oldDist ? ['--old', oldDist] : [])], { encoding: 'utf8', maxBuffer: 1 << 20 });
        if (r.status !== 0) throw new Error(`${impl} ${n}: ${r.stderr}`);
        rows.push(JSON.parse(r.stdout.trim().split('\n').pop() as string) as Figures);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  process.stdout.write('| impl | pods | dump MB | ready ms | peak RSS MB | heap after MB | pods loaded |\n|---|---|---|---|---|---|---|\n');
  for (const r of rows) {
    process.stdout.write(`| ${r.impl} | ${r.pods} | ${r.fileMB.toFixed(1)} | ${r.readyMs.toFixed(0)} | ${r.peakRssMB.toFixed(0)} | ${r.heapAfterMB.toFixed(0)} | ${r.loadedPods} |\n`);
  }
}

main().catch((e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exit(1); });
