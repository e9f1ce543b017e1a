// API Priority and Fairness against one identity: a PriorityLevelConfiguration with the smallest
// share the API server allows and almost no queue, and a FlowSchema that sends one
// ServiceAccount's requests there ahead of every default schema. The API server itself then
// answers that identity's ordinary requests (lists, gets, patches, evictions) with 429 and a
// Retry-After header as soon as a few of them are in flight at once; everyone else is unaffected.
import { stringify } from 'yaml';
import type { LocalCluster } from '../cluster/src/index.js';

export const THROTTLED_LEVEL = 'safe-drain-faults-throttled';

export async function throttleServiceAccount(cluster: LocalCluster, sa: { namespace: string; name: string }): Promise<void> {
  const objects = [
    {
      apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
      kind: 'PriorityLevelConfiguration',
      metadata: { name: THROTTLED_LEVEL },
      spec: {
        type: 'Limited',
        limited: {
          // Seats = ceil(server concurrency × 1 / sum of all shares): about 3 of 600 here.
          nominalConcurrencyShares: 1,
          lendablePercent: 0,
          borrowingLimitPercent: 0,
          limitResponse: { type: 'Queue', queuing: { queues: 1, handSize: 1, queueLengthLimit: 1 } },
        },
      },
    },
    {
      apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
      kind: 'FlowSchema',
      metadata: { name: THROTTLED_LEVEL },
      spec: {
        priorityLevelConfiguration: { name: THROTTLED_LEVEL },
        // Below every default schema but "exempt" (1) and "probes" (2): this one wins for the SA.
        matchingPrecedence: 50,
        distinguisherMethod: { type: 'ByUser' },
        rules: [
          {
            subjects: [{ kind: 'ServiceAccount', serviceAccount: { namespace: sa.namespace, name: sa.name } }],
            resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'], namespaces: ['*'], clusterScope: true }],
            nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
          },
        ],
      },
    },
  ];
  await cluster.kubectl(['apply', '-f', '-'], { input: objects.map((o) => stringify(o)).join('---\n') });
}

export async function removeThrottle(cluster: LocalCluster): Promise<void> {
  await cluster.kubectl(['delete', 'flowschema,prioritylevelconfiguration', THROTTLED_LEVEL, '--ignore-not-found']);
}
