// Host-wide kernel settings the kubelet writes at start (its "kernel tunables": with /proc/sys
// writable in the node container they are the HOST's, not the container's). Saved before the first
// real-nodes cluster starts and restored when the last one goes down: a file under the cache dir
// holds the original values and the state dirs of the clusters running now.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** What kubelet 1.37 sets (pkg/kubelet/cm: setupKernelTunables), as /proc/sys paths. */
export const KUBELET_SYSCTLS = [
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
] as const;

interface SavedSysctls {
  values: Record<string, string>;
  /** State dirs of the real-nodes clusters that rely on the saved values. */
  holders: string[];
}

const cacheRoot = (): string =>
  process.env.SAFE_DRAIN_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'safe-drain');
export const savedSysctlsFile = (): string => join(cacheRoot(), 'real-nodes-host-sysctls.json');

export function readSysctls(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of KUBELET_SYSCTLS) {
    const p = join('/proc/sys', k);
    if (existsSync(p)) out[k] = readFileSync(p, 'utf8').trim();
  }
  return out;
}

function load(): SavedSysctls | undefined {
  try {
    return JSON.parse(readFileSync(savedSysctlsFile(), 'utf8')) as SavedSysctls;
  } catch {
    return undefined;
  }
}

/** A holder whose cluster state is gone (crashed, reaped) no longer counts. */
const live = (holders: string[]): string[] => holders.filter((d) => existsSync(join(d, 'real-nodes.json')));

/** Records the host's values (first holder only) and registers stateDir as a holder. */
export function saveHostSysctls(stateDir: string): void {
  const prev = load();
  const holders = prev ? live(prev.holders) : [];
  // No live holder: the values now on the host are the ones to restore (a leftover file from a
  // crash whose restore also failed would otherwise keep stale values forever: restore it first).
  if (prev && holders.length === 0) writeSysctls(prev.values);
  const values = prev && holders.length > 0 ? prev.values : readSysctls();
  mkdirSync(dirname(savedSysctlsFile()), { recursive: true });
  writeFileSync(savedSysctlsFile(), JSON.stringify({ values, holders: [...holders, stateDir] }, null, 2));
}

/**
 * Unregisters stateDir; when no live holder is left, writes the saved values back and removes the
 * file. Returns the settings it could not restore (empty when all went back, or others still hold).
 */
export function restoreHostSysctls(stateDir: string): string[] {
  const prev = load();
  if (!prev) return [];
  const holders = live(prev.holders).filter((d) => d !== stateDir);
  if (holders.length > 0) {
    writeFileSync(savedSysctlsFile(), JSON.stringify({ values: prev.values, holders }, null, 2));
    return [];
  }
  const failed = writeSysctls(prev.values);
  if (failed.length === 0) rmSync(savedSysctlsFile(), { force: true });
  return failed;
}

function writeSysctls(values: Record<string, string>): string[] {
  const failed: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    const p = join('/proc/sys', k);
    try {
      if (readFileSync(p, 'utf8').trim() !== v) writeFileSync(p, `${v}\n`);
    } catch (err) {
      failed.push(`${k.replaceAll('/', '.')}=${v} (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  return failed;
}
