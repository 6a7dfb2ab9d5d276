/**
 * Public API of `lib/aka`: Milenage (TS 35.206), AUTN/AUTS (TS 33.102 §6.3), SQN management (TS 33.102 Annex C),
 * vector generation and the Digest-AKA maths (RFC 3310/4169).
 */
export { AkaError, type AkaErrorCode } from './errors.ts';
export { Milenage, computeOpc, MILENAGE_LENGTHS, type MilenageMacs, type MilenageKeys } from './milenage.ts';
export {
  AUTN_LENGTH, AUTS_LENGTH, buildAutn, parseAutn, openAutn, buildAuts, decodeAuts, macEqual,
  type ParsedAutn, type OpenedAutn, type DecodedAuts,
} from './autn.ts';
export {
  IND_BITS, IND_SLOTS, SQN_MAX, SEQ_MAX, DELTA, seqOf, indOf, makeSqn, nextSqn, resyncDecision, bufToSqn, sqnToBuf,
  SeqMsArray, type ResyncDecision, type SqnVerdict, type SeqMsArrayJson,
} from './sqn.ts';
export { generateVector, type AuthVector, type GenerateVectorOptions } from './vector.ts';
export {
  akaNonce, parseAkaNonce, akav2Password, digestHa1, digestHa2, digestResponse, rspauth, verifyDigestResponse,
  type DigestHash, type DigestQop, type DigestSecret, type DigestFields, type DigestResponseOptions,
  type ParsedAkaNonce,
} from './digest-aka.ts';
