// Public surface of the services plane, for podnetd: build a ControlPlane over the engine and
// feed it from the manifest source (src/kube) or a KubeSource.
export * from './objects';
export * from './validate';
export * from './model';
export * from './metrics';
export * from './control-plane';
