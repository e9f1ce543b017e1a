// Draining a node whose kubelet is stopped: pods there can never finish terminating, so the
// drain must finish anyway and say so. The grace period is shortened here (20 s) so the node
// goes NotReady quickly; the e2e suite measures the real defaults.
import { describe, expect, it } from '@jest/globals';
import { deployOn, drain, eventually, useCluster, waitReady } from './support.js';

const W1 = 'w1';

const tc = useCluster({ nodes: 3, nodeMonitorGracePeriod: '20s' }, { uncordonAfterEach: false });

describe('node with a stopped kubelet (node-monitor-grace-period shortened to 20s)', () => {
  it('finishes without hanging on pods that can never terminate, and reports them as not confirmed', async () => {
    const ns = 'dead-node';
    await deployOn(tc, W1, ns, 'web', 2);

    await tc.cluster.stopKubelet(W1);
    await eventually(async () => {
      const n = await tc.core.readNode({ name: W1 });
      return n.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True';
    }, 'w1 NotReady', 120_000);

    const { report, log } = await drain(tc, { nodes: [W1], timeoutMs: 130_000 });

    expect(report.success).toBe(true);
    expect(report.nodes[0]!.plan!.nodeReady).toBe(false);
    const mine = report.nodes[0]!.results.filter((r) => r.pod.startsWith(`${ns}/`));
    expect(mine).toHaveLength(2);
    expect(mine.every((r) => r.outcome === 'evicted-not-confirmed')).toBe(true);
    expect(mine[0]!.message).toMatch(/NotReady/);
    expect(log.join('\n')).toMatch(/NotReady/);
    // The evictions went through: the replicas run elsewhere.
    const pods = await waitReady(tc, ns, 'web', 2);
    expect(pods.filter((p) => !p.metadata?.deletionTimestamp).every((p) => p.spec?.nodeName !== W1)).toBe(true);
    await tc.cluster.startKubelet(W1);
  }, 150_000);
});
