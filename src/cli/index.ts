// Entry of the bundled CLI (dist/cli.js). ESM evaluates every static import before the module
// body, and the CLI's dependencies crash while loading on a Node.js older than the supported
// one; so this entry imports nothing heavy, checks the version, and only then loads the CLI.
import packageJson from '../../package.json' with { type: 'json' };
import { EXIT_BAD_INPUT } from './exit-codes.js';
import { unsupportedNodeMessage } from './node-version.js';

const problem = unsupportedNodeMessage(process.versions.node, packageJson.engines.node, process.execPath);
if (problem !== undefined) {
  process.stderr.write(`error: ${problem}\n`);
  process.exitCode = EXIT_BAD_INPUT;
} else {
  const { runAsProgram } = await import('./main.js');
  await runAsProgram();
}
