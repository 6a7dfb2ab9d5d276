/**
 * Everything the registrar tests share, in one import: the fixture (HSS, registrar, subscribers) and the UEs.
 */
export * from './fixture.ts';
export * from './ue.ts';
export { captureLogger } from '../hss/helpers.ts';
