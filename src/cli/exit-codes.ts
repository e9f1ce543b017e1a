// The CLI's exit codes, in a module of their own so that the Node version check (index.ts) can
// use them without loading the CLI.
// The numbers are the engine's (errors.ts EXIT_CODES); named here for the CLI's own code.
export const EXIT_SUCCESS = 0;
export const EXIT_DRAIN_FAILED = 1;
export const EXIT_BAD_INPUT = 2;
export const EXIT_GATE_FAILED = 3;
export const EXIT_NO_ACCESS = 4;
