// Configuration 4: IPVS, kube-proxy's ipvs mode. Only when the kernel has it: this checks
// without loading anything (loading a module would change the host for everyone). When present
// the configuration still needs ipvsadm and a driver; until a kernel here has IPVS it reports
// why it did not run.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import type { Active, Configuration } from './types';

function kernelHasIpvs(): boolean {
  if (existsSync('/proc/net/ip_vs')) return true;
  const rel = os.release();
  for (const f of [`/lib/modules/${rel}/modules.builtin`, `/lib/modules/${rel}/modules.dep`]) {
    try { if (/\/ip_vs\.ko/.test(readFileSync(f, 'utf8'))) return true; } catch { /* no such file */ }
  }
  return false;
}

export const ipvs: Configuration = {
  id: 'ipvs',
  label: 'IPVS (kube-proxy)',
  async unavailable() {
    if (!kernelHasIpvs()) return `kernel ${os.release()} has no IPVS (CONFIG_IP_VS unset, no ip_vs module)`;
    return 'kernel has IPVS but the IPVS driver is not written yet (needs ipvsadm)';
  },
  async setup(): Promise<Active> {
    throw new Error('IPVS configuration is not implemented');
  },
};
