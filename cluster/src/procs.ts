// Process bookkeeping for the local cluster: every component runs detached in its own process
// group, is recorded in <stateDir>/pids.json, and is killed by group (SIGTERM, then SIGKILL).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ProcRecord {
  /** Process id; also the process group id (spawned with detached: true). */
  pid: number;
  /** /proc start time of the process (clock ticks since boot): guards against pid reuse. */
  startTime: number;
  cmd: string;
}

export interface PidsFile {
  /** The process that owns the cluster; when it is gone the cluster is stale (unless persistent). */
  owner: { pid: number; startTime: number };
  /** A CLI cluster (`npm run cluster -- up`) outlives its owner on purpose. */
  persistent: boolean;
  procs: Record<string, ProcRecord>;
}

const pidsPath = (stateDir: string): string => join(stateDir, 'pids.json');

export function readPids(stateDir: string): PidsFile | undefined {
  try {
    return JSON.parse(readFileSync(pidsPath(stateDir), 'utf8')) as PidsFile;
  } catch {
    return undefined;
  }
}

export function writePids(stateDir: string, pids: PidsFile): void {
  const tmp = `${pidsPath(stateDir)}.tmp`;
  writeFileSync(tmp, JSON.stringify(pids, null, 2));
  // rename is atomic: a reader never sees half a file.
  renameSync(tmp, pidsPath(stateDir));
}

/** Start time (field 22 of /proc/PID/stat) or undefined when the process does not exist. */
export function procStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined; // zombie: already dead
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/** Alive, and (when startTime is given) the same process that was recorded. */
export function isAlive(pid: number, startTime?: number): boolean {
  const st = procStartTime(pid);
  if (st === undefined) return false;
  return startTime === undefined || st === startTime;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  // kill(-pgid, 0) also succeeds while only zombies are left in the group: look for a live member.
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
    } catch {
      // raced with an exit
    }
  }
  return false;
}

/** True if the recorded process is ours (same start time) or its group still has live members. */
function recordAlive(rec: ProcRecord): boolean {
  return isAlive(rec.pid, rec.startTime) || (procStartTime(rec.pid) === undefined && groupAlive(rec.pid));
}

function signalGroup(rec: ProcRecord, signal: NodeJS.Signals): void {
  // A recycled pid with a different start time is somebody else's process: leave it alone.
  const st = procStartTime(rec.pid);
  if (st !== undefined && st !== rec.startTime) return;
  try {
    process.kill(-rec.pid, signal);
  } catch {
    // group already gone
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** SIGTERM each process group, wait up to graceMs for all of them, then SIGKILL what is left. */
export async function killGroups(recs: ProcRecord[], graceMs = 5000): Promise<void> {
  for (const rec of recs) signalGroup(rec, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && recs.some(recordAlive)) await sleep(100);
  const left = recs.filter(recordAlive);
  for (const rec of left) signalGroup(rec, 'SIGKILL');
  const hardDeadline = Date.now() + 5000;
  while (Date.now() < hardDeadline && left.some(recordAlive)) await sleep(50);
}

/** Synchronous last resort (process 'exit' handlers cannot wait): SIGKILL every group. */
export function killGroupsSync(recs: ProcRecord[]): void {
  for (const rec of recs) signalGroup(rec, 'SIGKILL');
}

export interface SpawnOptions {
  name: string;
  cmd: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /** Keep the parent's event loop free of the child (CLI `up`: the cluster outlives the command). */
  unref?: boolean;
}

/** Starts a process in its own process group with stdout+stderr appended to logFile. */
export function spawnDetached(opts: SpawnOptions): ProcRecord {
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(opts.cmd, opts.args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: opts.env ?? process.env,
    });
    if (child.pid === undefined) throw new Error(`failed to start ${opts.name} (${opts.cmd})`);
    child.once('error', () => undefined); // a failed exec shows up as a dead process
    if (opts.unref) child.unref();
    const startTime = procStartTime(child.pid) ?? 0;
    return { pid: child.pid, startTime, cmd: opts.cmd };
  } finally {
    closeSync(fd);
  }
}

export function ownerRecord(): PidsFile['owner'] {
  return { pid: process.pid, startTime: procStartTime(process.pid) ?? 0 };
}

/**
 * Stops a cluster's processes: everything but etcd first, then etcd. kube-apiserver's graceful
 * shutdown needs etcd (stopped together, the apiserver hangs past any sensible grace period;
 * in this order it exits in about a second).
 */
export async function killCluster(procs: Record<string, ProcRecord>): Promise<void> {
  const entries = Object.entries(procs);
  await killGroups(entries.filter(([n]) => n !== 'etcd').map(([, r]) => r));
  await killGroups(entries.filter(([n]) => n === 'etcd').map(([, r]) => r));
}

/** Kills one cluster state dir's processes (whatever owns them). */
export async function killStateDir(stateDir: string): Promise<void> {
  const pids = readPids(stateDir);
  if (pids) await killCluster(pids.procs);
}

/**
 * Kills the process groups recorded by earlier runs under stateRoot whose owner process is dead
 * (a crashed test run), and removes their state dirs. Persistent (CLI) clusters are left alone.
 * Returns the state dirs reaped.
 */
export async function reapStale(stateRoot: string): Promise<string[]> {
  if (!existsSync(stateRoot)) return [];
  const reaped: string[] = [];
  for (const entry of readdirSync(stateRoot)) {
    const dir = join(stateRoot, entry);
    const pids = readPids(dir);
    if (!pids) continue;
    if (pids.persistent) continue;
    if (isAlive(pids.owner.pid, pids.owner.startTime)) continue;
    await killCluster(pids.procs);
    rmSync(dir, { recursive: true, force: true });
    reaped.push(dir);
  }
  return reaped;
}

export function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}
