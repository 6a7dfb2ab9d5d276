/**
 * Free ports for the testbed, the tests and the benchmarks: lib/free-ports.ts (the UE's softphone files pick one
 * too), re-exported where they were always taken from.
 */
export { freePort, freePorts, freeSipPort, freeTcpPort } from '../lib/free-ports.ts';
