// Errors of the namespace sandbox (topology builder for e2e tests, the demo and benchmarks).

export type SandboxErrorCode = 'SANDBOX_NOT_ROOT' | 'SANDBOX_NO_NETNS' | 'SANDBOX_TIMEOUT' | 'SANDBOX_EXITED' | 'SANDBOX_NOT_BUILT' | 'SANDBOX_CNI';

export class SandboxError extends Error {
  constructor(readonly code: SandboxErrorCode, message: string) {
    super(message);
    this.name = 'SandboxError';
  }
}
