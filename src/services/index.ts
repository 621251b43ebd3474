// Public surface of the control plane, for podnetd: build a ControlPlane over the engine and
// feed it from a ManifestSource or a KubeSource.
export * from './errors';
export * from './objects';
export * from './validate';
export * from './model';
export * from './metrics';
export * from './tracker';
export * from './runner';
export * from './control-plane';
