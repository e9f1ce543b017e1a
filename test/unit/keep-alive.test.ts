// A run's waits that only unref'd timers carry (a budget wait's fallback, a watch's reconnect)
// must not let the process exit: found by the fault matrix, where the CLI exited mid-drain
// (code 13, "unsettled top-level await") with the node cordoned while the API server restarted.
// runSafeDrain holds the process alive for its whole run (holdProcessAlive).
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const tsx = join(process.cwd(), 'node_modules', '.bin', 'tsx');
const probe = join(process.cwd(), 'test', 'unit', 'fixtures', 'keep-alive-probe.ts');

describe('a run holds the process alive while it waits on timers', () => {
  it('without the hold, Node exits in the middle of the wait (why the hold exists)', () => {
    const run = spawnSync(tsx, [probe, 'budget', 'unheld'], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stdout).not.toContain('woken');
    expect(run.status).toBe(13);
  }, 70_000);

  it('a budget wait with nothing but its fallback timer', () => {
    const run = spawnSync(tsx, [probe, 'budget'], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stdout).toContain('woken: fallback');
    expect(run.status).toBe(0);
  }, 70_000);

  it('a watch reconnecting to an API server that is down', () => {
    const run = spawnSync(tsx, [probe, 'watch'], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stdout).toContain('reconnected after 2 failures');
    expect(run.status).toBe(0);
  }, 70_000);
});
