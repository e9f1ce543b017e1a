// ts-jest in ESM mode (as the official typescript-action template does); run with
// NODE_OPTIONS=--experimental-vm-modules. Projects: unit (pure, fast), integration (a real control
// plane from cluster/, started per test file), real-nodes (real kubelets in Docker containers; needs
// root), and docker (testcontainers parts that run without a cluster).
const tsJest = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: [151002] } }],
};
const common = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: tsJest,
  // Seconds: a file slower than this shows its time beside PASS/FAIL in the log.
  slowTestThreshold: 1,
};
export default {
  // Measured long files first, also on a machine without jest's cache (see the file).
  testSequencer: '<rootDir>/test/longest-first-sequencer.js',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
    // Root (debootstrap, iptables -S, host sysctls) and a Docker Engine (scripts/start-docker.sh).
    { ...common, displayName: 'real-nodes', testMatch: ['<rootDir>/test/real-nodes/**/*.test.ts'] },
    { ...common, displayName: 'docker', testMatch: ['<rootDir>/test/docker/**/*.test.ts'] },
  ],
};
