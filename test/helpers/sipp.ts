/**
 * SIPp as an AKA UE; it lives in deploy/sipp.ts, which the benchmarks share.
 */
export { runSipp, sippBytes, writeAkaScenario, type SippResult, type SippUser } from '../../deploy/sipp.ts';
