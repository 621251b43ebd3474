// The podnet/v1 wire contract, byte for byte: ControlApi on a temp unix socket over fixed
// engine output (objects shaped exactly as the native binding builds them, keys in its order),
// each reply's body compared with test/ctl/fixtures/wire-golden.json. A change here is a change
// of what podnetctl --json and every script reading the socket see: within podnet/v1 fields may
// only be added. PODNET_UPDATE_GOLDEN=1 rewrites the file (review its diff).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import t from 'tap';
import { ControlApi, type ControlState } from '../../src/daemon/control-api';
import { engineStats, engineTrace, fixedStatus, flows, policyState, specs } from './fixtures/engine-output';

const GOLDEN = path.join(__dirname, 'fixtures/wire-golden.json');

/** The raw body, as a client on the socket reads it. */
function get(socketPath: string, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ socketPath, path: p, headers: { host: 'podnetd' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

const REQUESTS = [
  '/v1/status',
  '/v1/services',
  '/v1/flows',
  '/v1/flows?vip=10.96.0.10&limit=1',
  '/v1/trace?from=10.244.1.9&to=10.96.0.10&port=80&protocol=tcp',
  '/v1/policies',
  '/v1/trace?from=10.244.1.3&to=10.244.1.2&port=8080&protocol=udp&sourcePort=5353',
  '/v1/policies?pod=web',
  '/v1/policies?pod=nobody',
  '/v1/trace?from=10.244.1.9&to=fd00::1&port=80',
  '/v1/nope',
];

t.test('every reply kind matches the golden bytes', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'podnet-golden-'));
  const sock = path.join(dir, 'podnetd.sock');
  const state: ControlState = {
    status: fixedStatus,
    specs: () => specs,
    stats: () => engineStats,
    flows: (limit) => flows.slice(0, limit),
    trace: engineTrace,
    policies: () => policyState,
  };
  const api = new ControlApi(state, pino({ level: 'silent' }));
  await api.start(sock);
  t.teardown(async () => { await api.stop(); rmSync(dir, { recursive: true, force: true }); });

  const got: Record<string, { status: number; body: unknown }> = {};
  for (const p of REQUESTS) {
    const r = await get(sock, p);
    t.ok(r.body.endsWith('}\n'), `${p}: one JSON document and a newline`);
    got[p] = { status: r.status, body: JSON.parse(r.body) };
  }
  if (process.env.PODNET_UPDATE_GOLDEN === '1') {
    writeFileSync(GOLDEN, `${JSON.stringify(got, null, 2)}\n`);
    t.comment(`wrote ${GOLDEN}`);
  }
  const golden = JSON.parse(readFileSync(GOLDEN, 'utf8')) as typeof got;
  t.same(Object.keys(golden), REQUESTS, 'the golden file covers exactly these requests');
  for (const p of REQUESTS) {
    // Stringified: key order is part of what a reader of the raw JSON sees.
    t.equal(JSON.stringify(got[p]), JSON.stringify(golden[p]), p);
  }
  for (const p of REQUESTS) t.equal((got[p].body as { apiVersion?: string }).apiVersion, 'podnet/v1', `${p}: apiVersion`);
});
