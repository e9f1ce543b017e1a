// The fault matrix (test/integration/fault-matrix.ts), family api: API server faults: APF throttling, a restart, watches cut with 410 Gone, etcd paused, a slow API (rows 1-4, 9) and the fault-free reference (row 0).
import { faultMatrixTests } from './fault-matrix.js';

faultMatrixTests('api');
