import { describe, expect, it } from '@jest/globals';
import {
  kindCreateArgs,
  kindDeleteArgs,
  kindExportLogsArgs,
  kindGetKubeconfigArgs,
  kindGetNodesArgs,
  kindLoadImageArgs,
  kubeletSystemctlArgs,
  probeEndpointFor,
  probeServiceName,
} from '../../../e2e/backends/kind-util.js';

describe('kind command lines', () => {
  it('create: named cluster, config file, kubeconfig kept out of ~/.kube/config, bounded wait', () => {
    expect(kindCreateArgs({ name: 'sd', configPath: '/t/c.yaml', kubeconfigPath: '/t/kc' })).toEqual([
      'create', 'cluster', '--name', 'sd', '--config', '/t/c.yaml', '--kubeconfig', '/t/kc', '--wait', '300s',
    ]);
    expect(kindCreateArgs({ name: 'sd', configPath: 'c', kubeconfigPath: 'k', waitSeconds: 90 }).slice(-2)).toEqual(['--wait', '90s']);
  });

  it('delete / get kubeconfig / get nodes / load / export logs', () => {
    expect(kindDeleteArgs('sd')).toEqual(['delete', 'cluster', '--name', 'sd']);
    expect(kindDeleteArgs('sd', '/t/kc')).toEqual(['delete', 'cluster', '--name', 'sd', '--kubeconfig', '/t/kc']);
    expect(kindGetKubeconfigArgs('sd')).toEqual(['get', 'kubeconfig', '--name', 'sd']);
    expect(kindGetKubeconfigArgs('sd', true)).toEqual(['get', 'kubeconfig', '--name', 'sd', '--internal']);
    expect(kindGetNodesArgs('sd')).toEqual(['get', 'nodes', '--name', 'sd']);
    expect(kindLoadImageArgs('sd', 'img:1')).toEqual(['load', 'docker-image', 'img:1', '--name', 'sd']);
    expect(kindExportLogsArgs('sd', '/logs')).toEqual(['export', 'logs', '/logs', '--name', 'sd']);
  });

  it('kubelet: systemctl inside the node container (a stop, not a kill)', () => {
    expect(kubeletSystemctlArgs('sd-worker2', 'stop')).toEqual(['exec', 'sd-worker2', 'systemctl', 'stop', 'kubelet']);
    expect(kubeletSystemctlArgs('sd-worker2', 'start')).toEqual(['exec', 'sd-worker2', 'systemctl', 'start', 'kubelet']);
    expect(kubeletSystemctlArgs('sd-worker2', 'is-active')).toEqual(['exec', 'sd-worker2', 'systemctl', 'is-active', 'kubelet']);
  });
});

describe('probeEndpointFor', () => {
  const base = { metadata: { name: 'helloworld', namespace: 'e2e' }, spec: { selector: { app: 'helloworld' } } };

  it('uses the Service itself when it is a NodePort Service', () => {
    const svc = { ...base, spec: { ...base.spec, type: 'NodePort', ports: [{ port: 80, targetPort: 8080, nodePort: 31234 }] } };
    expect(probeEndpointFor(svc, 80)).toEqual({ kind: 'nodePort', nodePort: 31234 });
  });

  it('mirrors a ClusterIP Service into a companion NodePort Service with the same selector and port mapping', () => {
    const svc = { ...base, spec: { ...base.spec, type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }, { port: 9090 }] } };
    const r = probeEndpointFor(svc, 80);
    expect(r.kind).toBe('companion');
    if (r.kind !== 'companion') return;
    expect(r.service.metadata?.name).toBe('helloworld-sd-probe');
    expect(r.service.metadata?.namespace).toBe('e2e');
    expect(r.service.spec).toEqual({ type: 'NodePort', selector: { app: 'helloworld' }, ports: [{ name: 'probe', port: 80, targetPort: 'http', protocol: 'TCP' }] });
    // targetPort defaults to the port, as the API server does.
    const r2 = probeEndpointFor(svc, 9090);
    expect(r2.kind === 'companion' && r2.service.spec?.ports?.[0]?.targetPort).toBe(9090);
  });

  it('refuses what cannot be probed', () => {
    expect(() => probeEndpointFor({ ...base, spec: { ...base.spec, ports: [{ port: 80 }] } }, 8080)).toThrow(/no port 8080 \(ports: 80\)/);
    expect(() => probeEndpointFor({ ...base, spec: { ports: [{ port: 80 }] } }, 80)).toThrow(/no selector/);
    expect(() => probeEndpointFor({ ...base, spec: { type: 'ExternalName', ports: [{ port: 80 }] } }, 80)).toThrow(/ExternalName/);
  });

  it('companion names stay valid DNS labels', () => {
    const long = probeServiceName('a'.repeat(70));
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])?$/);
    expect(probeServiceName(`${'b'.repeat(53)}-x`)).toBe(`${'b'.repeat(53)}-sd-probe`);
  });
});
