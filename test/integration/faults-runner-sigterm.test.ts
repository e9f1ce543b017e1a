// The fault matrix (test/integration/fault-matrix.ts), family runner-sigterm: the runner is stopped with SIGTERM (and SIGKILL 10 s later) in each of six phases (row 8).
import { faultMatrixTests } from './fault-matrix.js';

faultMatrixTests('runner-sigterm');
