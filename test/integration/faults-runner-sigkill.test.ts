// The fault matrix (test/integration/fault-matrix.ts), family runner-sigkill: the runner is SIGKILLed in each of six phases, then the drain is run again (row 8).
import { faultMatrixTests } from './fault-matrix.js';

faultMatrixTests('runner-sigkill');
