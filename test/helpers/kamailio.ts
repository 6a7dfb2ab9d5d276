/**
 * Kamailio 5.6 as an S-CSCF; it lives in deploy/kamailio.ts, which the benchmarks share.
 */
export { startKamailio, type Kamailio } from '../../deploy/kamailio.ts';
