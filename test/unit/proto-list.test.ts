// The protobuf list reader (kube/proto-list.ts) on bytes written field by field with protobufjs's
// Writer, in the API server's layout (k8s\0 + runtime.Unknown{raw: PodList | NodeList}). Pure: the
// real API server's answers are read in test/integration/planner-parity.test.ts.
import { describe, expect, it } from '@jest/globals';
import protobuf from 'protobufjs/minimal.js';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { nodeFootprint, podFootprint, ProtoListStream } from '../../src/engine/kube/proto-list.js';
import { podRequests } from '../../src/engine/plan/capacity.js';

type Field = [no: number, value: string | number | Field[] | Uint8Array];

/** A message from [field number, value] pairs: strings and sub-messages length-delimited, numbers as varints. */
function message(fields: Field[]): Uint8Array {
  const w = protobuf.Writer.create();
  for (const [no, value] of fields) {
    if (typeof value === 'number') w.uint32((no << 3) | 0).uint64(value);
    else if (typeof value === 'string') w.uint32((no << 3) | 2).string(value);
    else if (value instanceof Uint8Array) w.uint32((no << 3) | 2).bytes(value);
    else w.uint32((no << 3) | 2).bytes(message(value));
  }
  return w.finish();
}

const quantities = (no: number, q: Record<string, string>): Field[] => Object.entries(q).map(([k, v]): Field => [no, [[1, k], [2, [[1, v]]]]]);
const resources = (requests: Record<string, string>, limits: Record<string, string> = {}): Field => [8, [...quantities(1, limits), ...quantities(2, requests)]];

/** A pod as the API server writes it, with fields the reader must step over (managed fields, volumes, conditions, a varint). */
function podMessage(name: string, node: string | undefined, phase: string, spec: Field[]): Field {
  return [
    2,
    [
      [1, [[1, name], [3, 'ns'], [5, `uid-${name}`], [17, [[1, 'kubectl'], [2, 'Update'], [7, new Uint8Array(300).fill(0x7b)]]], [11, [[1, 'app'], [2, name]]]]],
      [2, [[1, [[1, 'data'], [2, [[1, 'x']]]]], ...spec, ...(node ? ([[10, node]] as Field[]) : []), [25, 1000], [4, 30]]],
      [3, [[1, phase], [2, [[1, 'Ready'], [2, 'True']]], [7, '10.0.0.1']]],
    ],
  ];
}

function answer(list: Field[]): Buffer {
  const unknown = message([
    [1, [[1, 'v1'], [2, 'PodList']]],
    [2, message(list)],
    [4, 'application/vnd.kubernetes.protobuf'],
  ]);
  return Buffer.concat([Buffer.from([0x6b, 0x38, 0x73, 0x00]), unknown]);
}

const PODS: Field[] = [
  podMessage('plain', 'n1', 'Running', [[2, [[1, 'c'], [2, 'img'], resources({ cpu: '250m', memory: '64Mi' }, { cpu: '1' })]]]),
  podMessage('two-containers', 'n1', 'Running', [
    [2, [[1, 'a'], resources({ cpu: '1', memory: '1Gi' })]],
    [2, [[1, 'b'], resources({ cpu: '500m' })]],
  ]),
  // An init container bigger than the containers, a sidecar (restartPolicy Always), overhead.
  podMessage('init-sidecar-overhead', 'n2', 'Pending', [
    [20, [[1, 'init'], resources({ cpu: '2', memory: '10Mi' })]],
    [20, [[1, 'sidecar'], [24, 'Always'], resources({ cpu: '100m', memory: '32Mi' })]],
    [2, [[1, 'main'], resources({ cpu: '300m', memory: '128Mi' })]],
    ...quantities(32, { cpu: '50m', memory: '20Mi' }),
  ]),
  podMessage('finished', 'n2', 'Succeeded', [[2, [[1, 'c'], resources({ cpu: '4' })]]]),
  podMessage('unscheduled', undefined, 'Pending', [[2, [[1, 'c'], resources({ cpu: '1' })]]]),
  // Pod-level requests (PodSpec field 40, Kubernetes 1.34+): they replace the containers' cpu sum.
  podMessage('pod-level', 'n1', 'Running', [[2, [[1, 'c'], resources({ cpu: '100m', memory: '64Mi' })]], [40, resources({ cpu: '3' }, { cpu: '4' })[1]]]),
];

/** The same pods in JSON form: what podRequests computes from them is what the footprints must give. */
const JSON_PODS: V1Pod[] = [
  { spec: { nodeName: 'n1', containers: [{ name: 'c', resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: '1' } } }] }, status: { phase: 'Running' } },
  { spec: { nodeName: 'n1', containers: [{ name: 'a', resources: { requests: { cpu: '1', memory: '1Gi' } } }, { name: 'b', resources: { requests: { cpu: '500m' } } }] }, status: { phase: 'Running' } },
  {
    spec: {
      nodeName: 'n2',
      initContainers: [
        { name: 'init', resources: { requests: { cpu: '2', memory: '10Mi' } } },
        { name: 'sidecar', restartPolicy: 'Always', resources: { requests: { cpu: '100m', memory: '32Mi' } } },
      ],
      containers: [{ name: 'main', resources: { requests: { cpu: '300m', memory: '128Mi' } } }],
      overhead: { cpu: '50m', memory: '20Mi' },
    },
    status: { phase: 'Pending' },
  },
  { spec: { nodeName: 'n2', containers: [{ name: 'c', resources: { requests: { cpu: '4' } } }] }, status: { phase: 'Succeeded' } },
  { spec: { containers: [{ name: 'c', resources: { requests: { cpu: '1' } } }] }, status: { phase: 'Pending' } },
  { spec: { nodeName: 'n1', containers: [{ name: 'c', resources: { requests: { cpu: '100m', memory: '64Mi' } } }], resources: { requests: { cpu: '3' }, limits: { cpu: '4' } } }, status: { phase: 'Running' } },
];

const LIST = answer([[1, [[1, ''], [2, '4242'], [3, 'next-page-token'], [4, 10567]]], ...PODS]);

function readAll(chunks: Buffer[]): { pods: V1Pod[]; continueAfter: number; fields: ReturnType<ProtoListStream<V1Pod>['end']>['fields'] } {
  const stream = new ProtoListStream(podFootprint);
  const pods: V1Pod[] = [];
  let continueAfter = -1;
  chunks.forEach((c, i) => {
    pods.push(...stream.push(c));
    if (continueAfter < 0 && stream.fields?.metadata?.continue) continueAfter = i;
  });
  const end = stream.end();
  return { pods: [...pods, ...end.items], continueAfter, fields: end.fields };
}

const footprint = (p: V1Pod) => ({ node: p.spec?.nodeName, phase: p.status?.phase, requests: podRequests(p) });

describe('ProtoListStream of pods', () => {
  it('reads each pod\'s node, phase and requests as podRequests sees them in JSON, and the list\'s fields', () => {
    const { pods, fields } = readAll([LIST]);
    expect(pods.map(footprint)).toEqual(JSON_PODS.map(footprint));
    expect(fields.metadata).toEqual({ resourceVersion: '4242', continue: 'next-page-token', remainingItemCount: 10567 });
    // What a footprint carries: no metadata, status or other spec fields (those bytes are stepped over).
    expect(pods[0]).toEqual({ spec: { nodeName: 'n1', containers: [{ name: '', resources: { requests: { cpu: '250m', memory: '64Mi' } } }] }, status: { phase: 'Running' } });
  });

  it('gives the same pods whatever the chunk boundaries (every cut point, and byte by byte)', () => {
    const whole = readAll([LIST]).pods;
    for (let cut = 1; cut < LIST.length; cut++) {
      expect(readAll([LIST.subarray(0, cut), LIST.subarray(cut)]).pods).toEqual(whole);
    }
    const bytes = Array.from({ length: LIST.length }, (_, i) => LIST.subarray(i, i + 1));
    const byByte = readAll(bytes);
    expect(byByte.pods).toEqual(whole);
    // The list's fields come first: known long before the last pod has arrived.
    expect(byByte.continueAfter).toBeGreaterThan(0);
    expect(byByte.continueAfter).toBeLessThan(LIST.length / 4);
  });

  it('hands each pod over as soon as its bytes are in, not at the end of the page', () => {
    const stream = new ProtoListStream(podFootprint);
    const half = Math.floor(LIST.length / 2);
    const early = stream.push(LIST.subarray(0, half));
    expect(early.length).toBeGreaterThan(0);
    expect(early.length + stream.push(LIST.subarray(half)).length + stream.end().items.length).toBe(PODS.length);
  });

  it('an answer cut off in the middle of its items is an error, not a shorter list', () => {
    const stream = new ProtoListStream(podFootprint);
    // The envelope's last field (contentType, 37 bytes) follows the list: 60 bytes off cut the last pod.
    stream.push(LIST.subarray(0, LIST.length - 60));
    expect(() => stream.end()).toThrow(/ended in the middle of its items/);
  });

  it('an answer that is not Kubernetes protobuf is refused', () => {
    expect(() => new ProtoListStream(podFootprint).push(Buffer.from('{"kind":"PodList"}'))).toThrow(/not a Kubernetes protobuf answer/);
  });

  it('an empty list: its fields, no pods', () => {
    const { pods, fields } = readAll([answer([[1, [[2, '7']]]])]);
    expect(pods).toEqual([]);
    expect(fields.metadata).toEqual({ resourceVersion: '7' });
  });
});

describe('ProtoListStream of nodes', () => {
  const time: Field = [3, [[1, 1764000000], [2, 0]]];
  const nodeMessage = (name: string, fields: { labels?: Record<string, string>; unschedulable?: boolean; taints?: Field[]; ready?: string }): Field => [
    2,
    [
      [1, [[1, name], [5, `uid-${name}`], ...Object.entries(fields.labels ?? {}).map(([k, v]): Field => [11, [[1, k], [2, v]]]), [17, [[1, 'kubelet'], [7, new Uint8Array(500)]]]]],
      [2, [[1, '10.0.0.0/24'], ...(fields.unschedulable !== undefined ? ([[4, fields.unschedulable ? 1 : 0]] as Field[]) : []), ...(fields.taints ?? [])]],
      [
        3,
        [
          ...quantities(1, { cpu: '8', memory: '32Gi', pods: '110' }),
          ...quantities(2, { cpu: '7800m', memory: '31Gi', pods: '110' }),
          [3, ''],
          [4, [[1, 'MemoryPressure'], [2, 'False'], time]],
          [4, [[1, 'Ready'], [2, fields.ready ?? 'True'], time, [5, 'KubeletReady'], [6, 'kubelet is posting ready status']]],
          [5, [[1, 'InternalIP'], [2, '10.0.0.5']]],
          [8, [[1, 'registry.invalid/image:1'], [2, 12345]]],
        ],
      ],
    ],
  ];

  it('reads name, labels, unschedulable, taints, allocatable and conditions as JSON would give them', () => {
    const list = answer([
      [1, [[2, '99']]],
      nodeMessage('n1', { labels: { 'kubernetes.io/hostname': 'n1', zone: 'a' } }),
      nodeMessage('n2', { unschedulable: true, taints: [[5, [[1, 'dedicated'], [2, 'gpu'], [3, 'NoSchedule']]], [5, [[1, 'node.kubernetes.io/unreachable'], [2, ''], [3, 'NoExecute'], [4, [[1, 1764000000]]]]]], ready: 'Unknown' }),
      nodeMessage('n3', { unschedulable: false }),
    ]);
    const stream = new ProtoListStream(nodeFootprint);
    const nodes: V1Node[] = [...stream.push(list), ...stream.end().items];
    const allocatable = { cpu: '7800m', memory: '31Gi', pods: '110' };
    const conditions = (ready: string) => [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: ready }];
    expect(nodes).toEqual([
      { metadata: { name: 'n1', labels: { 'kubernetes.io/hostname': 'n1', zone: 'a' } }, spec: {}, status: { allocatable, conditions: conditions('True') } },
      {
        metadata: { name: 'n2' },
        // A taint's empty value is left out, as in JSON.
        spec: { unschedulable: true, taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }] },
        status: { allocatable, conditions: conditions('Unknown') },
      },
      // unschedulable false is left out, as in JSON.
      { metadata: { name: 'n3' }, spec: {}, status: { allocatable, conditions: conditions('True') } },
    ]);
  });
});
