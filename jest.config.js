// ts-jest in ESM mode (as the official typescript-action template does); run with
// NODE_OPTIONS=--experimental-vm-modules. Two projects: unit (pure, fast) and integration
// (a real control plane from cluster/, started per test file), and docker.
const tsJest = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: [151002] } }],
};
const common = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: tsJest,
};
export default {
  // Known long files first, also on a machine without jest's cache (see the file).
  testSequencer: '<rootDir>/test/longest-first-sequencer.js',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'], slowTestThreshold: 600 },
    // Needs a Docker Engine (scripts/start-docker.sh): testcontainers parts that run without kind.
    { ...common, displayName: 'docker', testMatch: ['<rootDir>/test/docker/**/*.test.ts'], slowTestThreshold: 120 },
  ],
};
