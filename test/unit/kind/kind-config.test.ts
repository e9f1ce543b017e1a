import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import {
  DEFAULT_KUBERNETES_VERSION,
  KIND_NODE_IMAGES,
  kindNodeImage,
  kindNodeNames,
  renderKindConfig,
  validateClusterName,
} from '../../../e2e/backends/kind-util.js';

interface KindNode {
  role: string;
  image: string;
  labels?: Record<string, string>;
}

describe('renderKindConfig', () => {
  it('renders one control plane and N workers, all on the node image', () => {
    const image = kindNodeImage('v1.36.4');
    const text = renderKindConfig({ workers: 3, nodeImage: image });
    const doc = parse(text) as { kind: string; apiVersion: string; nodes: KindNode[] };
    expect(doc.kind).toBe('Cluster');
    expect(doc.apiVersion).toBe('kind.x-k8s.io/v1alpha4');
    expect(doc.nodes.map((n) => n.role)).toEqual(['control-plane', 'worker', 'worker', 'worker']);
    expect(new Set(doc.nodes.map((n) => n.image))).toEqual(new Set([image]));
    expect(doc.nodes.every((n) => n.labels === undefined)).toBe(true);
  });

  it('labels workers only, spelled out per node (no YAML anchors)', () => {
    const text = renderKindConfig({ workers: 2, nodeImage: 'kindest/node:v1.35.8', workerLabels: { 'safe-drain.e2e/worker': 'true' } });
    expect(text).not.toMatch(/[&*]a\d/);
    const doc = parse(text) as { nodes: KindNode[] };
    expect(doc.nodes[0]!.labels).toBeUndefined();
    expect(doc.nodes.slice(1).map((n) => n.labels)).toEqual([{ 'safe-drain.e2e/worker': 'true' }, { 'safe-drain.e2e/worker': 'true' }]);
    // Label values stay strings ("true", not a YAML boolean).
    expect(text).toContain('safe-drain.e2e/worker: "true"');
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects workers = %p', (workers) => {
    expect(() => renderKindConfig({ workers, nodeImage: 'kindest/node:v1.36.4' })).toThrow(/workers/);
  });
});

describe('kindNodeImage', () => {
  it('pins the tags built for the kind release to their digests', () => {
    expect(kindNodeImage('v1.36.4')).toBe('kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed');
    expect(kindNodeImage('1.35.8')).toBe(KIND_NODE_IMAGES['v1.35.8']);
    expect(kindNodeImage()).toBe(KIND_NODE_IMAGES[DEFAULT_KUBERNETES_VERSION]);
    for (const [tag, ref] of Object.entries(KIND_NODE_IMAGES)) expect(ref).toMatch(new RegExp(`^kindest/node:${tag.replace(/\./g, '\\.')}@sha256:[0-9a-f]{64}$`));
  });

  it('keeps unknown tags unpinned and full references as given', () => {
    expect(kindNodeImage('v1.33.1')).toBe('kindest/node:v1.33.1');
    expect(kindNodeImage(' v1.38.0-alpha.1 ')).toBe('kindest/node:v1.38.0-alpha.1');
    expect(kindNodeImage('ghcr.io/me/node:v1.36.4')).toBe('ghcr.io/me/node:v1.36.4');
    expect(kindNodeImage('kindest/node:v1.36.4')).toBe('kindest/node:v1.36.4');
  });

  it.each(['', 'latest', 'v1.36', 'one.two.three'])('rejects %p', (v) => {
    expect(() => kindNodeImage(v)).toThrow();
  });
});

describe('kind node names', () => {
  it('follows kind: <name>-control-plane, <name>-worker, <name>-worker2…', () => {
    expect(kindNodeNames('sd', 3)).toEqual({ controlPlane: 'sd-control-plane', workers: ['sd-worker', 'sd-worker2', 'sd-worker3'] });
  });

  it('validates cluster names', () => {
    expect(validateClusterName('sd-e2e-abc123')).toBe('sd-e2e-abc123');
    for (const bad of ['', 'Upper', '-lead', 'trail-', 'under_score', 'x'.repeat(41)]) expect(() => validateClusterName(bad)).toThrow(/invalid kind cluster name/);
  });
});
