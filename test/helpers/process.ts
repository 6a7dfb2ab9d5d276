/**
 * Child processes for integration tests; they live in deploy/process.ts, which the benchmarks share.
 */
export { NODE, ROOT, start, startMcx, type Proc } from '../../deploy/process.ts';
