// A list answer split into its items as its bytes arrive, whatever the chunk boundaries: every
// boundary of a small list with escapes, multi-byte characters, nested arrays and managedFields
// gives the same items and fields as JSON.parse of the whole answer. managedFields is emptied
// (read by no one, a third of a pod's bytes), unless its key is split between two chunks.
import { describe, expect, it } from '@jest/globals';
import { ListStream } from '../../src/engine/kube/list-stream.js';

const pods = [
  {
    metadata: {
      name: 'a',
      namespace: 'ns',
      annotations: { note: 'brace } bracket ] quote " backslash \\ and \\" both', 'x/y': 'ü ✓ 🚀' },
      managedFields: [{ manager: 'kube-controller-manager', fieldsV1: { 'f:metadata': { 'f:labels': { '.': {} } } } }, { manager: 'm "q" ]}' }],
      labels: { app: 'a' },
    },
    spec: { nodeName: 'w1', containers: [{ name: 'c', resources: { requests: { cpu: '10m', memory: '16Mi' } }, args: ['[', '{', '"\\'] }] },
    status: { phase: 'Running' },
  },
  { metadata: { name: 'b', managedFields: [] }, spec: { nodeName: 'w2' } },
  { metadata: { managedFields: [{ manager: 'last' }] }, spec: {} },
];
const listText = JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '42', continue: 'tok', remainingItemCount: 7 }, items: pods });
const expected = pods.map((p) => ({ ...p, metadata: { ...p.metadata, managedFields: [] } }));
/** Items with managedFields emptied, for boundaries that split its key (then it is kept whole). */
const emptied = (items: unknown[]) => (items as typeof pods).map((p) => ({ ...p, metadata: { ...p.metadata, managedFields: [] } }));

function feed(text: string, cuts: number[]): { items: unknown[]; fieldsEarly: unknown; fields: unknown } {
  const bytes = Buffer.from(text);
  const s = new ListStream<unknown>();
  const items: unknown[] = [];
  let fieldsEarly: unknown;
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    items.push(...s.push(bytes.subarray(from, to)));
    fieldsEarly ??= s.fields;
    from = to;
  }
  const end = s.end();
  return { items: [...items, ...end.items], fieldsEarly, fields: end.fields };
}

describe('ListStream', () => {
  it('gives the items and fields of JSON.parse at every single chunk boundary', () => {
    const length = Buffer.byteLength(listText);
    for (let cut = 1; cut < length; cut++) {
      const r = feed(listText, [cut]);
      expect(emptied(r.items)).toEqual(expected);
      expect(r.fields).toEqual({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '42', continue: 'tok', remainingItemCount: 7 } });
    }
  });

  it('in chunks of 1 to 7 bytes (every escape and multi-byte character split somewhere)', () => {
    const length = Buffer.byteLength(listText);
    for (let size = 1; size <= 7; size++) {
      const cuts = Array.from({ length: Math.floor((length - 1) / size) }, (_, i) => (i + 1) * size);
      expect(emptied(feed(listText, cuts).items)).toEqual(expected);
    }
  });

  it('empties managedFields and keeps everything else as it was', () => {
    expect(feed(listText, []).items).toEqual(expected);
    expect(feed(listText, [listText.indexOf('"spec"')]).items).toEqual(expected);
  });

  it('knows metadata.continue before the items have arrived', () => {
    const at = listText.indexOf('"items":[') + '"items":['.length + 5;
    const r = feed(listText, [at]);
    expect(r.fieldsEarly).toMatchObject({ metadata: { continue: 'tok' } });
  });

  it('an empty list, fields after the items, and an answer that is no list', () => {
    expect(feed('{"kind":"PodList","metadata":{"resourceVersion":"1"},"items":[]}', [])).toMatchObject({ items: [], fields: { metadata: { resourceVersion: '1' } } });
    expect(feed('{"items":[{"a":1}],"metadata":{"continue":"c"}}', [3])).toMatchObject({ items: [{ a: 1 }], fields: { metadata: { continue: 'c' } } });
    expect(feed('{"kind":"Status","code":500}', [4])).toMatchObject({ items: [], fields: { kind: 'Status', code: 500 } });
  });

  it('a list cut off in the middle of its items is an error, not a short list', () => {
    const s = new ListStream<unknown>();
    s.push(Buffer.from(listText.slice(0, listText.indexOf('"name":"b"'))));
    expect(() => s.end()).toThrow(/middle of its items/);
  });
});
