// Entry point of the bundled Action (dist/index.js). run() reports its own failures through
// core.setFailed, so nothing is left to catch here.
import { run } from './main.js';

await run();
