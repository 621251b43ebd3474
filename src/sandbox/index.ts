// The sandbox's public surface (tests, demo, bench, podnetctl sandbox import from here).
export { Sandbox, sandboxUnavailable, type Pod, type SandboxOptions } from './sandbox';
export { Podnetd, type PodnetdOptions } from './podnetd';
export { ManagedProcess } from './process';
export { SandboxError } from './errors';
export { sweepStale, SANDBOX_NS_RE } from './naming';
export { serviceObjects, toYaml, writeManifest, removeManifest, type ServiceDef, type PortDef, type EndpointDef } from './manifests';
export { cniAvailable, netConf } from './cni';
export { NodePodnetd, type NodePodnetdOptions } from './node-podnetd';
