// The sample app has one start-up time everywhere (e2e/sample-app.ts): the e2e pod template on
// every backend, the kind image's arguments and examples/helloworld.yaml (the demo) must agree,
// or scenario b measures a different app on one backend than on another.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { POD_READY_DELAY_ANNOTATION } from '../../../cluster/src/kwok-config.js';
import { KIND_SAMPLE_ARGS, KIND_SAMPLE_IMAGE } from '../../../e2e/backends/kind.js';
import { SAMPLE_APP_POD_ANNOTATIONS, SAMPLE_APP_READINESS_PROBE, SAMPLE_APP_STARTUP_SECONDS } from '../../../e2e/sample-app.js';

interface Deployment {
  kind: string;
  spec: { template: { metadata: { annotations?: Record<string, string> }; spec: { containers: { image: string; args: string[]; readinessProbe?: unknown }[] } } };
}

const example = parseAllDocuments(readFileSync(new URL('../../../examples/helloworld.yaml', import.meta.url), 'utf8'))
  .map((d) => d.toJS() as Deployment)
  .find((d) => d.kind === 'Deployment')!;

describe('the sample app (helloworld)', () => {
  it('is Ready no sooner than 8 s after start, on real kubelets and on kwok nodes', () => {
    expect(SAMPLE_APP_STARTUP_SECONDS).toBeGreaterThanOrEqual(8);
    expect(SAMPLE_APP_READINESS_PROBE.initialDelaySeconds).toBe(SAMPLE_APP_STARTUP_SECONDS);
    expect(SAMPLE_APP_POD_ANNOTATIONS[POD_READY_DELAY_ANNOTATION]).toBe(`${SAMPLE_APP_STARTUP_SECONDS}s`);
  });

  it('examples/helloworld.yaml is the same app: image, args, readiness probe and kwok start-up delay', () => {
    const container = example.spec.template.spec.containers[0]!;
    expect(container.image).toBe(KIND_SAMPLE_IMAGE);
    expect(container.args).toEqual([...KIND_SAMPLE_ARGS]);
    expect(container.readinessProbe).toEqual(SAMPLE_APP_READINESS_PROBE);
    expect(example.spec.template.metadata.annotations).toEqual(SAMPLE_APP_POD_ANNOTATIONS);
  });
});
