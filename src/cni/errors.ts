// The CNI plugin's error hierarchy. Every failure the plugin can report is a CniError with a
// stable `code` string (PODNET_CNI_*) and the CNI spec's numeric code it maps to; main.ts prints
// it as the spec's error object on stdout and exits non-zero. Anything else that escapes is an
// internal bug and is reported as code 999 ("plugin-specific") with its message.
import { NetlinkError as KernelError } from '../netlink/errors';

/** Numeric codes from the CNI spec (SPEC.md "Error"). */
export const SpecCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodeFailure: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
  NotAvailable: 50,
  LimitedConnectivity: 51,
  Internal: 999,
} as const;

export type SpecCodeValue = (typeof SpecCode)[keyof typeof SpecCode];

export class CniError extends Error {
  constructor(
    readonly code: string,
    readonly specCode: number,
    message: string,
    readonly details?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    // Every subclass is named after its class: the name logs and tests see.
    this.name = new.target.name;
  }

  /** The spec's error object (without cniVersion, which main.ts adds). */
  toSpec(): { code: number; msg: string; details?: string } {
    return this.details === undefined
      ? { code: this.specCode, msg: this.message }
      : { code: this.specCode, msg: this.message, details: this.details };
  }
}

/** Config cniVersion (or prevResult's) is not one this plugin speaks. Spec code 1. */
export class IncompatibleVersionError extends CniError {
  constructor(msg: string, details?: string) {
    super('PODNET_CNI_INCOMPATIBLE_VERSION', SpecCode.IncompatibleVersion, msg, details);
  }
}

/** A CNI_* variable is missing or malformed; the message names it. Spec code 4 (3 for no container ID). */
export class EnvironmentError extends CniError {
  constructor(msg: string, details?: string, specCode: number = SpecCode.InvalidEnvironment) {
    super('PODNET_CNI_BAD_ENV', specCode, msg, details);
  }
}

/** stdin is not JSON, or not an object. Spec code 6. */
export class DecodeError extends CniError {
  constructor(msg: string, details?: string) {
    super('PODNET_CNI_DECODE', SpecCode.DecodeFailure, msg, details);
  }
}

/** A config key has a wrong type or value; `details` is "key=value". Spec code 7. */
export class ConfigError extends CniError {
  constructor(readonly key: string, value: unknown, why: string) {
    super('PODNET_CNI_BAD_CONFIG', SpecCode.InvalidConfig, `invalid config ${key}: ${why}`,
      `${key}=${JSON.stringify(value) ?? 'undefined'}`);
  }
}

/** Reading or writing state (IPAM store, sysctls, netlink) failed. Spec code 5. */
export class IoError extends CniError {
  constructor(msg: string, options?: { cause?: unknown }, details?: string) {
    super('PODNET_CNI_IO', SpecCode.IoFailure, msg, details, options);
  }
}

/** A transient condition (store lock held too long): the runtime should retry. Spec code 11. */
export class TryAgainError extends CniError {
  constructor(msg: string) {
    super('PODNET_CNI_TRY_AGAIN', SpecCode.TryAgainLater, msg);
  }
}

/** No free address in any range of a range set. Spec code 5 (host-local reports it the same way as other I/O). */
export class ExhaustedError extends CniError {
  constructor(range: string) {
    super('PODNET_CNI_IPAM_EXHAUSTED', SpecCode.IoFailure, `no IP addresses available in range set ${range}`);
  }
}

/** A requested IP is taken, outside every range, or reserved (gateway). Spec code 7. */
export class RequestedIpError extends CniError {
  constructor(ip: string, why: string) {
    super('PODNET_CNI_IPAM_REQUESTED', SpecCode.InvalidConfig, `requested IP ${ip} ${why}`, ip);
  }
}

/** CHECK found the attachment differs from prevResult. Plugin-specific code. */
export class CheckError extends CniError {
  constructor(msg: string) {
    super('PODNET_CNI_CHECK_FAILED', SpecCode.Internal, msg);
  }
}

/** STATUS: the plugin cannot serve ADD right now. Spec code 50. */
export class NotAvailableError extends CniError {
  constructor(msg: string) {
    super('PODNET_CNI_NOT_AVAILABLE', SpecCode.NotAvailable, msg);
  }
}

/** A delegated IPAM plugin failed: its own spec error is passed through unchanged. */
export class DelegateError extends CniError {
  constructor(plugin: string, specCode: number, msg: string, details?: string) {
    super('PODNET_CNI_DELEGATE', specCode, `${plugin}: ${msg}`, details);
  }
}

/** Netlink or `ip` failed while wiring the pod. Spec code 5 with the kernel's reason. */
export class NetlinkError extends CniError {
  /** `cause` undefined: `what` is the whole message (a src/netlink error, passed as `wrapped`). */
  constructor(what: string, cause: unknown, wrapped?: Error) {
    super('PODNET_CNI_NETLINK', SpecCode.IoFailure,
      cause === undefined ? what : `${what}: ${cause instanceof Error ? cause.message : String(cause)}`, undefined, { cause: cause ?? wrapped });
  }
}

/**
 * Turns anything thrown into a CniError: a failed kernel request (src/netlink) is an I/O failure
 * (IoError for a sysctl, NetlinkError for the rest); unknown errors become code 999.
 */
export function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (e instanceof KernelError) {
    return e.code === 'SYSCTL_FAILED' ? new IoError(e.message, { cause: e }) : new NetlinkError(e.message, undefined, e);
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new CniError('PODNET_CNI_INTERNAL', SpecCode.Internal, msg);
}
