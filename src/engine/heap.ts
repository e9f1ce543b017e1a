// Process-wide memory settings for the programs that run the engine (the CLI and the Action's
// entries call it first); the engine itself never changes its host's V8 flags.
import v8 from 'node:v8';

/**
 * Old space may grow to this share above what the last full collection left alive, before the
 * next one. V8's own factor reaches 4x on a busy process: in a 50-node drain (1,003 nodes,
 * 11,033 pods, 500 pods moved) each full collection left ~25 MB alive, yet V8 let the old space
 * fill with promoted garbage to 50-72 MB before the next (2-5 full collections a run), and the
 * process kept those pages: peak RSS 162-185 MiB. At 20% it collects ~12 times in a 78 s drain
 * (incremental, ~10 ms each), under 37 MB committed: peak RSS 139 MiB.
 */
const OLD_SPACE_GROWTH_PERCENT = 20;

/**
 * V8 doubles its young generation (up to 3 x 16 MB here) whenever a scavenge finds many live
 * objects, as parsing a thousand-node cluster's lists does in bursts, and the process keeps
 * the memory: measured at 1,003 nodes / 11,033 pods, a plan's peak RSS 164 -> 125 MB with the
 * young generation held at its size, the live heap never above ~35 MB. List items are parsed
 * one by one and die young, so a small young generation costs few extra scavenges. The old
 * space is held close to its live size too (OLD_SPACE_GROWTH_PERCENT). (Node flags cannot be
 * passed to an Action's node; V8 reads both at each collection, so setting them at start-up works.)
 */
let heapKept = false;
export function keepHeapSmall(): void {
  if (heapKept) return;
  heapKept = true;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  v8.setFlagsFromString(`--heap-growing-percent=${OLD_SPACE_GROWTH_PERCENT}`);
}
