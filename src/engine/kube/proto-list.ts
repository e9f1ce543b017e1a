// Pages of the cluster's pods and nodes in the API server's protobuf encoding, read only as far
// as the capacity check needs: per pod its node, its phase and the requests of its containers,
// init containers, the pod itself (pod-level) and overhead; per node its name, labels, unschedulable, taints, allocatable
// and conditions. On 1,003 nodes / 11,033 pods the pod pages are 27 MB in protobuf against 92 MB
// of JSON, and the API server sends them in a third of the time (0.7 s against 1.9 s, measured
// page by page); the node pages 1.3 MB against 3.7 MB per 500 nodes. Every field not needed
// (managed fields, volumes, env, images, ...) is stepped over by its length, never decoded.
//
// Each item becomes a minimal V1Pod / V1Node holding exactly the fields the capacity check reads
// (plan/capacity.ts, kube/cluster-pods.ts), as JSON would give them (a field JSON omits when
// empty or false is left out), so the same code sums and judges them.
// Field numbers: k8s.io/api core/v1 and k8s.io/apimachinery generated.proto (stable: protobuf
// field numbers are never reused). Every number read here is the same in k8s.io/api v0.32.13 and
// v0.37.2 (compared for the supported range, docs/compatibility.md; the planner parity test
// checks protobuf against JSON on each release npm run compat runs).
import protobuf from 'protobufjs/minimal.js';
import type { V1Container, V1Node, V1Pod, V1Taint } from '@kubernetes/client-node';
import type { ListDecoder, ListFields } from './list-stream.js';

/** Decodes one list item from the reader, which is at its first field; `end` is where it ends. */
export type ItemDecoder<T> = (r: protobuf.Reader, end: number) => T;

/** "k8s\0": the prefix of every protobuf answer of the API server, before a runtime.Unknown. */
const MAGIC = [0x6b, 0x38, 0x73, 0x00];
export const PROTOBUF = 'application/vnd.kubernetes.protobuf';

const LENGTH_DELIMITED = 2;

/** Calls `field(number, wireType)` for each field of the message at the reader's position; `field` reads or skips it. */
function eachField(r: protobuf.Reader, end: number, field: (no: number, wireType: number) => void): void {
  while (r.pos < end) {
    const tag = r.uint32();
    const before = r.pos;
    field(tag >>> 3, tag & 7);
    if (r.pos === before) r.skipType(tag & 7); // not read by `field`: stepped over
  }
}

/** The end of the length-delimited field the reader is at (its length read). */
function messageEnd(r: protobuf.Reader): number {
  const len = r.uint32();
  return r.pos + len;
}

/**
 * The runtime.Unknown envelope's start: where its `raw` (the encoded list) starts and how long
 * it is. Throws RangeError while the bytes do not reach that far.
 */
function envelope(bytes: Uint8Array): { start: number; length: number } {
  if (MAGIC.some((b, i) => i < bytes.length && bytes[i] !== b)) throw new Error('not a Kubernetes protobuf answer (no "k8s\\0" prefix)');
  const r = protobuf.Reader.create(bytes);
  r.pos = MAGIC.length;
  for (;;) {
    const tag = r.uint32(); // RangeError at the end of the bytes
    if (tag >>> 3 === 2 && (tag & 7) === LENGTH_DELIMITED) {
      const length = r.uint32();
      return { start: r.pos, length };
    }
    r.skipType(tag & 7);
  }
}

function listMeta(r: protobuf.Reader, end: number): ListFields {
  const metadata: NonNullable<ListFields['metadata']> = {};
  eachField(r, end, (no) => {
    if (no === 2) metadata.resourceVersion = r.string();
    else if (no === 3) metadata.continue = r.string();
    else if (no === 4) metadata.remainingItemCount = Number(r.int64());
  });
  return { metadata };
}

/** A pod's footprint: node, phase, requests (the fields of k8s.io/api core/v1 Pod read here). */
export function podFootprint(r: protobuf.Reader, end: number): V1Pod {
  const p: V1Pod = { spec: { containers: [] }, status: {} };
  eachField(r, end, (no, wireType) => {
    if (wireType !== LENGTH_DELIMITED) return;
    if (no === 2) podSpec(r, messageEnd(r), p.spec!);
    else if (no === 3) {
      const statusEnd = messageEnd(r);
      eachField(r, statusEnd, (f) => {
        if (f === 1) p.status!.phase = r.string();
      });
    }
  });
  return p;
}

function podSpec(r: protobuf.Reader, end: number, spec: NonNullable<V1Pod['spec']>): void {
  eachField(r, end, (no, wireType) => {
    if (wireType !== LENGTH_DELIMITED) return;
    if (no === 2) spec.containers.push(container(r, messageEnd(r)));
    else if (no === 20) (spec.initContainers ??= []).push(container(r, messageEnd(r)));
    else if (no === 10) spec.nodeName = r.string();
    else if (no === 32) {
      spec.overhead ??= {};
      quantityEntry(r, messageEnd(r), spec.overhead);
    } else if (no === 40) {
      const requests = resourceRequests(r, messageEnd(r));
      if (requests) spec.resources = { requests }; // pod-level requests (Kubernetes 1.34+)
    }
  });
}

/** The requests of a ResourceRequirements message (field 2, map<string, Quantity>): what the scheduler counts. */
function resourceRequests(r: protobuf.Reader, end: number): Record<string, string> | undefined {
  let requests: Record<string, string> | undefined;
  eachField(r, end, (f, w) => {
    if (f !== 2 || w !== LENGTH_DELIMITED) return;
    quantityEntry(r, messageEnd(r), (requests ??= {}));
  });
  return requests;
}

function container(r: protobuf.Reader, end: number): V1Container {
  const c: V1Container = { name: '' };
  eachField(r, end, (no, wireType) => {
    if (wireType !== LENGTH_DELIMITED) return;
    if (no === 24) c.restartPolicy = r.string();
    else if (no === 8) {
      const requests = resourceRequests(r, messageEnd(r));
      if (requests) c.resources = { requests };
    }
  });
  return c;
}

/** One entry of a map<string, Quantity> (key 1, value 2: a Quantity whose field 1 is its text). */
function quantityEntry(r: protobuf.Reader, end: number, into: Record<string, string>): void {
  let key = '';
  let value = '';
  eachField(r, end, (no, wireType) => {
    if (no === 1 && wireType === LENGTH_DELIMITED) key = r.string();
    else if (no === 2 && wireType === LENGTH_DELIMITED) {
      const quantityEnd = messageEnd(r);
      eachField(r, quantityEnd, (f) => {
        if (f === 1) value = r.string();
      });
    }
  });
  into[key] = value;
}

/** A node's footprint for the capacity check: name, labels, unschedulable, taints, allocatable, conditions. */
export function nodeFootprint(r: protobuf.Reader, end: number): V1Node {
  const n: V1Node = { metadata: {}, spec: {}, status: {} };
  eachField(r, end, (no, wireType) => {
    if (wireType !== LENGTH_DELIMITED) return;
    const partEnd = messageEnd(r);
    if (no === 1) {
      eachField(r, partEnd, (f, w) => {
        if (f === 1 && w === LENGTH_DELIMITED) n.metadata!.name = r.string();
        else if (f === 11 && w === LENGTH_DELIMITED) stringEntry(r, messageEnd(r), (n.metadata!.labels ??= {}));
      });
    } else if (no === 2) {
      eachField(r, partEnd, (f, w) => {
        if (f === 4 && w === 0) {
          if (r.bool()) n.spec!.unschedulable = true;
        } else if (f === 5 && w === LENGTH_DELIMITED) (n.spec!.taints ??= []).push(taint(r, messageEnd(r)));
      });
    } else if (no === 3) {
      eachField(r, partEnd, (f, w) => {
        if (f === 2 && w === LENGTH_DELIMITED) quantityEntry(r, messageEnd(r), (n.status!.allocatable ??= {}));
        else if (f === 4 && w === LENGTH_DELIMITED) {
          const conditionEnd = messageEnd(r);
          const condition = { type: '', status: '' };
          eachField(r, conditionEnd, (c) => {
            if (c === 1) condition.type = r.string();
            else if (c === 2) condition.status = r.string();
          });
          (n.status!.conditions ??= []).push(condition);
        }
      });
    } else {
      r.pos = partEnd;
    }
  });
  return n;
}

function taint(r: protobuf.Reader, end: number): V1Taint {
  const t: V1Taint = { key: '', effect: '' };
  eachField(r, end, (no) => {
    if (no === 1) t.key = r.string();
    else if (no === 2) {
      const value = r.string();
      if (value !== '') t.value = value;
    } else if (no === 3) t.effect = r.string();
  });
  return t;
}

/** One entry of a map<string, string>. */
function stringEntry(r: protobuf.Reader, end: number, into: Record<string, string>): void {
  let key = '';
  let value = '';
  eachField(r, end, (no) => {
    if (no === 1) key = r.string();
    else if (no === 2) value = r.string();
  });
  into[key] = value;
}

/**
 * A protobuf page read as it arrives, with ListStream's shape: each item is decoded as soon as
 * its last byte is in and the bytes before it are let go, so memory holds one item's bytes, never
 * the page (holding a page's chunks until its end kept ~20 MB of buffers alive at 1,000 nodes, as
 * they outlived the young generation). The list's fields (its first field) are known from the
 * first bytes, so the next page is asked for early.
 */
export class ProtoListStream<T> implements ListDecoder<T> {
  private phase: 'envelope' | 'list' | 'after' = 'envelope';
  /** Bytes read but not consumed: an item (or the envelope's start) cut by a chunk's end. */
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes of the encoded list not consumed yet. */
  private listLeft = 0;
  private listFields?: ListFields;

  /** `item` decodes one item of the list (podFootprint, nodeFootprint). */
  constructor(private readonly item: ItemDecoder<T>) {}

  get fields(): ListFields | undefined {
    return this.listFields;
  }

  push(chunk: Buffer): T[] {
    const out: T[] = [];
    if (this.phase === 'after') return out;
    const bytes = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let pos = 0;
    if (this.phase === 'envelope') {
      try {
        const { start, length } = envelope(bytes);
        pos = start;
        this.listLeft = length;
        this.phase = 'list';
      } catch (err) {
        if (!(err instanceof RangeError)) throw err;
        this.pending = Buffer.from(bytes); // the envelope's first bytes: tiny
        return out;
      }
    }
    while (this.listLeft > 0) {
      const r = protobuf.Reader.create(bytes);
      r.pos = pos;
      let fieldEnd: number;
      try {
        const tag = r.uint32();
        if ((tag & 7) !== LENGTH_DELIMITED) {
          r.skipType(tag & 7);
          fieldEnd = r.pos;
        } else {
          const length = r.uint32();
          fieldEnd = r.pos + length;
          if (fieldEnd > bytes.length) break; // the rest of this field is in the next chunks
          if (tag >>> 3 === 1) this.listFields = listMeta(r, fieldEnd);
          else if (tag >>> 3 === 2) out.push(this.item(r, fieldEnd));
        }
      } catch (err) {
        if (err instanceof RangeError) break; // a tag or length cut by the chunk's end
        throw err;
      }
      this.listLeft -= fieldEnd - pos;
      pos = fieldEnd;
    }
    if (this.listLeft <= 0) this.phase = 'after';
    // A copy of the few bytes left, so the chunk itself is not kept alive by them.
    this.pending = this.phase === 'list' ? Buffer.from(bytes.subarray(pos)) : Buffer.alloc(0);
    return out;
  }

  end(): { fields: ListFields; items: T[] } {
    if (this.phase !== 'after') throw new Error(this.phase === 'envelope' ? 'an empty protobuf answer' : 'the list ended in the middle of its items');
    return { fields: this.listFields ?? { metadata: {} }, items: [] };
  }
}
