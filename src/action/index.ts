// Entry point of the bundled Action (dist/index.js). run() reports its own failures through
// core.setFailed, so nothing is left to catch here.
import { keepHeapSmall } from '../engine/heap.js';
import { run } from './main.js';

// Before any list is read: see heap.ts.
keepHeapSmall();

await run();
