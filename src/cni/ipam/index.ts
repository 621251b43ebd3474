// IPAM front: the built-in host-local-style allocator (`ipam.type: "podnet"`) or any other IPAM
// plugin found in CNI_PATH, behind one interface (ipam.ts) so cmdAdd/cmdDel/... do not care which.
import type { NetConf } from '../config';
import type { CniEnv } from '../env';
import { isBuiltin, type Ipam } from './ipam';

export { isBuiltin, requestedIps, type Ipam, type IpamAddress, type IpamResult } from './ipam';

export function openIpam(conf: NetConf, env: CniEnv): Ipam {
  // Lazy: a delegated config never loads the store, a built-in one never loads child_process.
  if (isBuiltin(conf.ipam)) {
    const { BuiltinIpam } = require('./builtin') as typeof import('./builtin');
    return new BuiltinIpam(conf, conf.ipam, env);
  }
  const { DelegatedIpam } = require('./delegate') as typeof import('./delegate');
  return new DelegatedIpam(conf, env);
}
