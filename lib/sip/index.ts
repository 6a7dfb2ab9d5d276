/**
 * lib/sip: the SIP layer of the partner registrar (DESIGN §2.1). Import from here; the module files stay free to move.
 */
export { SipError, SipParseError, badHeader, isSipParseError, type SipErrorCode, type SipParseErrorCode } from './errors.ts';
export { EMPTY_BODY, SipRequest, SipResponse, readHeader, type SipMessage } from './message.ts';
export { DEFAULT_MAX_MESSAGE_SIZE, canFormResponse, parseMessage, type ParseOptions } from './parser.ts';
export { serializeMessage, startLine } from './serialize.ts';
export { createErrorResponse, createResponse, type ResponseOptions } from './response.ts';
export { createRequest, type RequestInit } from './request.ts';
export { newBranch, newCallId, newTag } from './ids.ts';
export { reasonPhrase } from './reason.ts';
export { HeaderList, type HeaderField } from './headers/list.ts';
export { displayName, headerKey } from './headers/names.ts';
export { Params, parseHeaderParams, type Param } from './headers/params.ts';
export { addressOfRecord, formatSipUri, parseUri, uriUser, type AbsoluteUri, type SipUri, type Uri } from './headers/uri.ts';
export { formatNameAddr, parseContactValue, parseDeltaSeconds, parseNameAddr, type Contact, type NameAddr } from './headers/name-addr.ts';
export { MAGIC_COOKIE, Via, parseVia, parseViaList } from './headers/via.ts';
export { MAX_CSEQ, parseCSeq, parseMaxForwards, type CSeq } from './headers/cseq.ts';
export {
  formatAuthenticationInfo, formatChallenge, formatCredentials, parseAuthValue, parseAuthenticationInfo, parseChallenge,
  parseCredentials, type AuthValue, type AuthenticationInfo, type ChallengeInput, type CredentialsInput,
  type DigestChallenge, type DigestCredentials,
} from './headers/auth.ts';
export { quote, splitList, unescapePercent } from './syntax.ts';
export { ServerTransaction, type ServerTransactionState, type TerminationReason } from './transaction/server.ts';
export { ClientTransaction, type ClientTransactionState } from './transaction/client.ts';
export { DEFAULT_TIMERS, resolveTimers, timerF, timerJ, timerK, type TimerValues } from './transaction/timers.ts';
export { clientKey, isRfc3261Branch, serverKey } from './transaction/keys.ts';
export { StreamFramer, type FrameResult } from './transport/framer.ts';
export { loadTlsFiles, tlsClientOptions, tlsServerOptions, type TlsFiles, type TlsMaterial } from './transport/tls.ts';
export { stampReceived, stampVia, udpResponseTarget, reconnectTarget } from './transport/routing.ts';
export { defaultPort, isReliable, type Destination, type FlowInfo, type ListenSpec, type TransportProtocol } from './transport/types.ts';
export { SipStack, type BoundAddress, type RequestHandler, type SendRequestOptions, type SipStackOptions } from './stack.ts';
export { newStats, type SipStats } from './stats.ts';
