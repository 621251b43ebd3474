// Traffic through the cache for the real-kernel tests: the flow pairs fpctl installs, and
// small node programs run inside the pod namespaces (a UDP echo and a client that checks every
// echo, a TCP sink that answers with the byte count and sha256, and its client).
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { VIP, type Pod, type Topology } from './topology';

/** fpctl nat/unnat fields for client:sport -> VIP:80 -> backend:bport; `gwDev` the device whose
 * MAC the redirected frames carry as source (default: each pod's host veth). */
export function natArgs(proto: 'udp' | 'tcp', client: Pod, sport: number, backend: Pod, bport: number, gwDev?: string): string[] {
  return [`proto=${proto}`, `client_dev=${client.host}`, `client=${client.ip}`, `client_mac=${client.mac}`, `sport=${sport}`,
    `vip=${VIP}`, 'vport=80', `backend_dev=${backend.host}`, `backend=${backend.ip}`, `backend_mac=${backend.mac}`, `bport=${bport}`,
    ...(gwDev ? [`gw_dev=${gwDev}`] : [])];
}

export const UDP_ECHO = `const d=require('dgram').createSocket('udp4');d.on('message',(m,r)=>d.send(m,r.port,r.address));d.bind(+process.argv[1],()=>console.log('ready'));`;
// Sends N datagrams from a fixed port to VIP:80 one at a time, checks each echo's source and bytes.
export const UDP_CLIENT = `const [vip,n,sport]=process.argv.slice(1);const d=require('dgram').createSocket('udp4');
let i=0,ok=0,bad=[];const payload=(k)=>Buffer.concat([Buffer.from([k>>8,k&255]),Buffer.alloc(1200,k%251)]);
const next=()=>{if(i===+n){console.log(JSON.stringify({ok,bad}));process.exit(0)}d.send(payload(i),80,vip)};
const timer=setTimeout(()=>{console.log(JSON.stringify({ok,bad,timeout:i}));process.exit(0)},8000);
d.on('message',(m,r)=>{if(r.address!==vip||r.port!==80||!m.equals(payload(i)))bad.push({i,from:r.address+':'+r.port});else ok++;i++;next()});
d.bind(+sport,()=>next());`;
export const TCP_SINK = `require('net').createServer(s=>{const h=require('crypto').createHash('sha256');let n=0;s.on('data',b=>{h.update(b);n+=b.length});s.on('end',()=>s.end(JSON.stringify({n,sha:h.digest('hex')})))}).listen(+process.argv[1],()=>console.log('ready'));`;
export const TCP_CLIENT = `const [vip,sport,file]=process.argv.slice(1);const data=require('fs').readFileSync(file);let out='';
const s=require('net').connect({host:vip,port:80,localPort:+sport},()=>s.end(data));s.on('data',b=>out+=b);s.on('close',()=>console.log(out||'{}'));s.on('error',e=>console.log(JSON.stringify({error:e.message})));`;

/** Waits for a background process to print `ready` (or `listening` for tcpdump on stderr). */
export function ready(c: ReturnType<Topology['spawnIn']>, word = 'ready'): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${word}" within 5 s`)), 5000);
    const on = (b: Buffer) => { if (b.toString().includes(word)) { clearTimeout(timer); resolve(); } };
    c.stdout?.on('data', on);
    c.stderr?.on('data', on);
  });
}

export function exited(c: ReturnType<Topology['spawnIn']>): Promise<void> {
  return new Promise((resolve) => { if (c.exitCode !== null) resolve(); else c.on('exit', () => resolve()); });
}

/**
 * The TCP slow path and sink: the node's nftables DNAT VIP:80 -> backend:8080 (SYN and SYN-ACK
 * are punted to it, the cache carries the rest), the sink listening in the backend, and `size`
 * random bytes in `dir`/data with the answer the sink must give for them; `sink` is its process.
 */
export async function tcpSink(topo: Topology, backend: Pod, dir: string, size: number): Promise<{ file: string; want: { n: number; sha: string }; sink: ReturnType<Topology['spawnIn']> }> {
  topo.inNode('nft', `table ip pnfl { chain pre { type nat hook prerouting priority dstnat; ip daddr ${VIP} tcp dport 80 dnat to ${backend.ip}:8080; }; }`);
  const sink = topo.spawnIn(backend.ns, ['node', '-e', TCP_SINK, '8080']);
  await ready(sink);
  const data = randomBytes(size);
  const file = path.join(dir, 'data');
  fs.writeFileSync(file, data);
  return { file, want: { n: data.length, sha: createHash('sha256').update(data).digest('hex') }, sink };
}
