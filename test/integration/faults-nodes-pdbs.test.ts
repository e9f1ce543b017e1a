// The fault matrix (test/integration/fault-matrix.ts), family nodes-pdbs: a node dies for good or for 30 s, the PDB deleted, re-selected or tightened while pods wait on it, two drains of one node (rows 5-7).
import { faultMatrixTests } from './fault-matrix.js';

faultMatrixTests('nodes-pdbs');
