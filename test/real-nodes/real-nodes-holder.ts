// Helper process of real-nodes.test.ts (not a test): starts a one-node real-nodes cluster, prints
// "READY <stateDir> <network>" and holds it until a signal ends the process; the test then checks
// that the exit handlers removed everything.
import { startRealNodesCluster } from '../../cluster/src/real-nodes/index.js';

const c = await startRealNodesCluster({ nodes: 1, privileged: process.env.SAFE_DRAIN_REAL_NODES_PRIVILEGED === '1' });
console.log(`READY ${c.stateDir} ${c.network}`);
// Bounded: a holder whose test died goes away by itself after 10 minutes (its exit handlers clean up).
setTimeout(() => process.exit(1), 600_000);
