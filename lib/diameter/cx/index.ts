/**
 * Typed Cx builders and readers (TS 29.229): one import for the registrar, the MMS and the HSS.
 */
export * from './constants.ts';
export { CX_VSAI, NO_STATE, cxAnswer, cxErrorAnswer, cxErrorAnswerForError, cxRequest, readCxAnswerBase, readCxRequestBase, readCxResult, resultEntries } from './common.ts';
export type { CxAnswerBase, CxAnswerData, CxErrorOptions, CxRequestBase } from './common.ts';
export * from './mar.ts';
export * from './sar.ts';
export * from './uar.ts';
export * from './lir.ts';
export * from './rtr.ts';
