// Entry of the bundled CLI (dist/cli.js). ESM evaluates every static import before the module
// body, and the CLI's dependencies crash while loading on a Node.js older than the supported
// one; so this entry imports nothing heavy, checks the version, and only then loads the CLI.
import module from 'node:module';
import packageJson from '../../package.json' with { type: 'json' };
import { keepHeapSmall } from '../engine/heap.js';
import { EXIT_BAD_INPUT } from './exit-codes.js';
import { unsupportedNodeMessage } from './node-version.js';

const problem = unsupportedNodeMessage(process.versions.node, packageJson.engines.node, process.execPath);
if (problem !== undefined) {
  process.stderr.write(`error: ${problem}\n`);
  process.exitCode = EXIT_BAD_INPUT;
} else {
  // A CLI is started again and again on the same machine: Node keeps V8's compiled code of the
  // bundle (its module compile cache, in the OS temp dir; NODE_DISABLE_COMPILE_CACHE=1 turns it
  // off), so later starts skip most of compiling it (measured: a fifth of the CPU time of loading
  // it). A cache Node cannot read or write, or one of another bundle, is ignored. The Action does
  // not use it: a hosted runner starts empty each job, where writing the cache only costs time.
  module.enableCompileCache?.();
  keepHeapSmall();
  const { runAsProgram } = await import('./main.js');
  await runAsProgram();
}
