// Which Kubernetes versions safe-drain supports, and what it says of the API server it meets.
// The range and its evidence: docs/compatibility.md. The oldest supported minor is the oldest one
// a major managed offering still supports (EKS extended support of 1.32 runs to March 2027);
// each minor in the range is run here (npm run compat, the kind workflow's matrix).
import { describeApiError } from './errors.js';

/** Minors of Kubernetes 1.x, inclusive. */
export const SUPPORTED_MINORS = { oldest: 32, newest: 37 } as const;

/**
 * Below this minor the engine cannot work at all: policy/v1 Eviction (the only eviction it sends)
 * is served from 1.22, and policy/v1 PodDisruptionBudget from 1.21.
 */
export const MIN_WORKING_MINOR = 22;

export const SUPPORTED_RANGE_TEXT = `1.${SUPPORTED_MINORS.oldest}–1.${SUPPORTED_MINORS.newest}`;

/** The fields of GET /version this reads (apimachinery version.Info). */
export interface VersionInfo {
  major?: string;
  minor?: string;
  gitVersion?: string;
}

export interface ServerVersion {
  major: number;
  minor: number;
  /** As the server gives it, e.g. v1.32.9-eks-113cf36 or v1.33.5-gke.1201000. */
  text: string;
}

/**
 * major.minor of the answer to /version: from gitVersion (vMAJOR.MINOR.PATCH, any suffix), else
 * from major/minor, which managed offerings may suffix with "+" (EKS, GKE: "32+").
 */
export function parseServerVersion(info: VersionInfo): ServerVersion | undefined {
  const git = /^v?(\d+)\.(\d+)\./.exec(info.gitVersion ?? '');
  if (git) return { major: Number(git[1]), minor: Number(git[2]), text: info.gitVersion! };
  const major = /^\d+/.exec(info.major ?? '')?.[0];
  const minor = /^\d+/.exec(info.minor ?? '')?.[0];
  if (major === undefined || minor === undefined) return undefined;
  return { major: Number(major), minor: Number(minor), text: info.gitVersion || `${major}.${minor}` };
}

export type VersionVerdict =
  | { kind: 'supported'; version: string }
  /** Older, newer or unknown: the drain goes on; the message says what is not proven and what to do. */
  | { kind: 'untested'; message: string }
  /** The engine cannot work there: refused before any change. */
  | { kind: 'unusable'; message: string };

/** The verdict on a read of /version; a failed read is said, never fatal (a cluster may deny /version). */
export async function judgeVersionRead(read: Promise<ServerVersion | undefined>): Promise<VersionVerdict> {
  try {
    return judgeServerVersion(await read);
  } catch (err) {
    return { kind: 'untested', message: `could not read the API server's Kubernetes version (${describeApiError(err)}); safe-drain supports Kubernetes ${SUPPORTED_RANGE_TEXT}: check the cluster's version` };
  }
}

/** Judges the API server's version against the supported range (undefined: /version unreadable). */
export function judgeServerVersion(version: ServerVersion | undefined): VersionVerdict {
  const range = `safe-drain supports Kubernetes ${SUPPORTED_RANGE_TEXT}`;
  if (!version) {
    return { kind: 'untested', message: `could not tell the API server's Kubernetes version (its /version answer has none); ${range}: check the cluster's version` };
  }
  const { major, minor, text } = version;
  if (major !== 1 || minor < MIN_WORKING_MINOR) {
    return {
      kind: 'unusable',
      message:
        `the API server runs Kubernetes ${text}, which safe-drain cannot drain on: it evicts through policy/v1, served from Kubernetes 1.${MIN_WORKING_MINOR}. ` +
        `Nothing was changed. ${range}: upgrade the cluster`,
    };
  }
  if (minor < SUPPORTED_MINORS.oldest) {
    return {
      kind: 'untested',
      message:
        `the API server runs Kubernetes ${text}, older than the supported range (${range}): ` +
        'the drain goes on, but how this version answers evictions and reports budgets and endpoints is not tested. ' +
        'Check the plan with operation: plan first, and upgrade the cluster to a supported minor',
    };
  }
  if (minor > SUPPORTED_MINORS.newest) {
    return {
      kind: 'untested',
      message:
        `the API server runs Kubernetes ${text}, newer than the supported range (${range}): ` +
        'the drain goes on, but this version is not tested yet. Look for a newer safe-drain release, or report what differs',
    };
  }
  return { kind: 'supported', version: text };
}
