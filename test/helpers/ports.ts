/**
 * Free loopback ports for tests: each test file asks for its own, so files can run in parallel. They live in
 * deploy/ports.ts, which the benchmarks share.
 */
export { freePort, freePorts } from '../../deploy/ports.ts';
