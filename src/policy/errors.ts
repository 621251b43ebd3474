// Policy errors: part of the control plane's one hierarchy (ControlError, stable `code`s).
// Invalid objects reuse InvalidObjectError (CONTROL_INVALID_OBJECT) so logs and metrics treat a
// bad NetworkPolicy like a bad Service; what is specific to policy is defined here.
import { ControlError } from '../kube/errors';

export { InvalidObjectError } from '../kube/errors';

/** Programming the engine's policy tables failed; the next sync recompiles and retries. */
export class PolicySyncError extends ControlError {
  constructor(message: string, cause: unknown) {
    super('POLICY_SYNC_FAILED', message, { cause });
  }
}
