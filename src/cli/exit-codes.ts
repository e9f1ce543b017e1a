// The CLI's exit codes, in a module of their own so that the Node version check (index.ts) can
// use them without loading the CLI.
export const EXIT_SUCCESS = 0;
export const EXIT_DRAIN_FAILED = 1;
export const EXIT_BAD_INPUT = 2;
