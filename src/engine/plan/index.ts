// The planner's public surface: pure functions from cluster objects to a DrainPlan.
export { planDrain } from './plan.js';
export { classifyPod, decideAction, decidePod, podTraits, type ActionDecision, type MissingFlag, type PodDecision, type PodTraits } from './classify.js';
export { budgetStatus, formatBudget, pdbKey, pdbNeverAllows, pdbsForPod, type BudgetStatus } from './pdb.js';
export { fitPod, formatTaint, podRequests, rejectReason, toleratesTaint, type PodRequests } from './capacity.js';
export { evictionGroups, evictionTier, isCritical } from './order.js';
export { matchesLabelSelector, matchesNodeSelectorTerm, matchesNodeSelectorTerms, parseLabelSelector } from './selector.js';
export { cpuMillis, formatBytes, formatMillis, memoryBytes, quantityValue } from './quantity.js';
export { controllerOf, isNodeReady, isPodReady, podKey, workloadKeyOf } from './pod.js';
