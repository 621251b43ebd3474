// sdNotify sends systemd's datagram to $NOTIFY_SOCKET: checked against socat as the receiver.
import t from 'tap';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { haveCommand, requires } from '../helpers/privileged';

t.test('READY=1 reaches the notify socket; no socket means not under systemd', requires({ socat: () => haveCommand('socat') }), async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podnet-notify-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 'notify');
  const rx = spawn('socat', ['-u', `UNIX-RECV:${sock}`, 'STDOUT']);
  t.teardown(() => { rx.kill(); });
  let got = '';
  rx.stdout.on('data', (d) => { got += d; });
  for (let i = 0; i < 50 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
  const { sdNotify } = await import('../../src/engine');
  process.env.NOTIFY_SOCKET = sock;
  t.equal(sdNotify('READY=1\nSTATUS=programmed'), true, 'sent');
  for (let i = 0; i < 50 && !got; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(got, 'READY=1\nSTATUS=programmed');
  delete process.env.NOTIFY_SOCKET;
  t.equal(sdNotify('READY=1'), false, 'not under systemd');
  process.env.NOTIFY_SOCKET = path.join(dir, 'missing');
  t.throws(() => sdNotify('READY=1'), { code: 'ENGINE_NOTIFY' });
  delete process.env.NOTIFY_SOCKET;
});
