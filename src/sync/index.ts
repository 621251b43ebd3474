// Change tracking and sync scheduling shared by every plane (kube-proxy's split): sources feed
// a ChangeTracker, the sync applies it to a Cache, a BoundedFrequencyRunner decides when.
export * from './tracker';
export * from './cache';
export * from './runner';
export * from './loop';
