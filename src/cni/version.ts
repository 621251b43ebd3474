// Which CNI spec versions podnet speaks, and what each version allows. The result is always in
// the config's cniVersion (podman 4.3 rejects a 1.1.0 result to a 1.0.0 config).
import { IncompatibleVersionError } from './errors';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST: CniVersion = '1.1.0';

/** Orders "x.y.z" strings numerically; non-numeric parts sort first. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number(x) || 0);
  const pb = b.split('.').map((x) => Number(x) || 0);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

export function isSupported(v: unknown): v is CniVersion {
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Throws spec code 1 unless `v` is supported; `what` names where the version came from. */
export function requireSupported(v: unknown, what = 'config'): CniVersion {
  if (isSupported(v)) return v;
  throw new IncompatibleVersionError('incompatible CNI versions',
    `${what} is ${JSON.stringify(v ?? '')}, plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`);
}

/** CHECK exists from 0.4.0 on. */
export function allowsCheck(v: string): boolean { return compareVersions(v, '0.4.0') >= 0; }

/** GC and STATUS exist from 1.1.0 on. */
export function allowsGcStatus(v: string): boolean { return compareVersions(v, '1.1.0') >= 0; }

/** The VERSION command's answer. */
export function versionInfo(requested?: string): { cniVersion: string; supportedVersions: string[] } {
  return { cniVersion: isSupported(requested) ? requested : LATEST, supportedVersions: [...SUPPORTED_VERSIONS] };
}
