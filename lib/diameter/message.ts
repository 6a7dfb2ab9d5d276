/**
 * The message-level API in one import: builders (`build.ts`), readers (`read.ts`), answers (`answer.ts`),
 * dictionary validation (`validate.ts`) and identifier generators (`ids.ts`). The pieces live in their own files to
 * stay small; callers import from here.
 */
export { buildAvp, buildAvps, buildMessage, buildNamedAvp, buildRequest, encodeAvpValue } from './build.ts';
export type { AvpEntry, AvpEntryOptions, AvpInputTypes, AvpPair, MessageInit, RequestOptions } from './build.ts';
export { decodeAvpValue, findAvp, findAvps, getValue, getValues, missingAvpExample, requireValue } from './read.ts';
export type { AvpOutputTypes, AvpSource, AvpValueOf } from './read.ts';
export { answerFor, errorAnswerFor, errorAnswerForError, requestOfError } from './answer.ts';
export type { AnswerableRequest, ErrorAnswerOptions } from './answer.ts';
export { checkMessageValidity, validateMessage } from './validate.ts';
export type { ValidateOptions } from './validate.ts';
export { EndToEndIdGenerator, HopByHopIdGenerator, SessionIdGenerator } from './ids.ts';
export type { Clock } from './ids.ts';
