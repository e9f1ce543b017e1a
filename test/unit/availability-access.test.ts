// The permission check asks for the gate's verbs only when the gate is on (availability not off).
import { describe, expect, it } from '@jest/globals';
import { describeAccess, requiredAccess } from '../../src/engine/kube/access.js';

describe('requiredAccess with the availability gate', () => {
  const names = (q: ReturnType<typeof requiredAccess>) => q.map(describeAccess);
  it('a drain watches EndpointSlices and reads Services and namespaces', () => {
    expect(names(requiredAccess('drain', true, false, true))).toEqual(
      expect.arrayContaining(['get services', 'list services', 'get namespaces', 'list endpointslices.discovery.k8s.io', 'watch endpointslices.discovery.k8s.io']),
    );
  });
  it('a plan only reads them once: no watch', () => {
    const plan = names(requiredAccess('plan', true, false, true));
    expect(plan).toContain('list endpointslices.discovery.k8s.io');
    expect(plan).not.toContain('watch endpointslices.discovery.k8s.io');
  });
  it('availability off asks for none of them', () => {
    expect(names(requiredAccess('drain', true, false, false)).filter((n) => /services|endpointslices|namespaces/.test(n))).toEqual([]);
  });
});
