// Entry point of the Action's post step (dist/post.js). post() reports its own failures through
// core.setFailed, so nothing is left to catch here.
import { post } from './post.js';

await post();
