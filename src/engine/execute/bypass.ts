// What the run does when a pod was deleted without its PDB's consent (execute/forced.ts): a
// Warning Event on the node, and the availability gate told, so it judges the disruption. The
// pod's result and the timeline entry are written where the deletion happens (eviction.ts).
import type { BudgetBypass } from '../types.js';
import { nodeEvent } from './cordon.js';
import { describeBypass, forcePolicy } from './forced.js';
import type { PodWorkContext } from './pod-work.js';
import type { Run } from './run-state.js';

/** The force the options ask for (none by default), and what each forced deletion on `node` tells. */
export function withForcedDeletions(run: Run, node: string): Pick<PodWorkContext, 'force' | 'onBypass'> {
  const force = forcePolicy(run.env.options);
  if (!force) return {};
  return {
    force,
    onBypass: (bypass: BudgetBypass) => {
      nodeEvent(run, node, 'Warning', 'SafeDrainBudgetBypassed', `Pod ${bypass.pod} ${describeBypass(bypass)}. ${run.env.origin}`);
      run.services.gate?.noteBypass(bypass, bypass.pdb !== undefined ? run.services.pdbs?.get(bypass.pdb) : undefined);
    },
  };
}
