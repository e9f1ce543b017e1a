// The e2e sample app, `helloworld`, and what it models: a real service of the kind safe-drain was
// started for, which needs time to start (load its configuration, warm caches, connect to its
// backends) and is Ready only SAMPLE_APP_STARTUP_SECONDS after its container starts. That start-up
// time is what makes a plain drain of a single replica visibly down (scenario b): the old pod is
// gone before the new one can serve. Scenario c must stay at zero with the very same app.
//
// The same timing on every backend, from one pod template (scenarios.ts):
//  - real kubelets (kind, real nodes): the readiness probe starts only after the start-up time
//    (initialDelaySeconds), so the pod cannot be Ready, nor receive Service traffic, before it;
//  - kwok nodes (local backend): kwok runs no probes; its pod-ready stage waits for the delay
//    annotation instead (cluster/src/kwok-config.ts).
// On SIGTERM the kind image keeps serving 5 s (agnhost `--delay-shutdown=5`), as a well-behaved
// service does while its endpoint removal propagates; that alone does not cover an 8 s start.
import { POD_READY_DELAY_ANNOTATION } from '../cluster/src/kwok-config.js';

export const SAMPLE_APP_STARTUP_SECONDS = 8;

/** Readiness probe of the sample container (port 8080). */
export const SAMPLE_APP_READINESS_PROBE = {
  httpGet: { path: '/', port: 8080 },
  initialDelaySeconds: SAMPLE_APP_STARTUP_SECONDS,
  periodSeconds: 1,
} as const;

/** Pod-template annotations giving the sample app the same start-up time on kwok nodes. */
export const SAMPLE_APP_POD_ANNOTATIONS: Readonly<Record<string, string>> = {
  [POD_READY_DELAY_ANNOTATION]: `${SAMPLE_APP_STARTUP_SECONDS}s`,
};
