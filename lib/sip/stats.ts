/**
 * Counters of one SIP stack: plain numbers a metrics exporter can read at any time. Nothing in the stack throws on
 * bad input; these are where bad input shows up.
 */
import type { SipParseErrorCode } from './errors.ts';

/** Every counter of a {@link SipStack}. */
export interface SipStats {
  datagramsReceived: number;
  streamMessagesReceived: number;
  requestsReceived: number;
  responsesReceived: number;
  messagesSent: number;
  /** CRLF keep-alives (UDP datagrams of only CRLF, stream CRLF runs). */
  keepalives: number;
  /** Messages that failed to parse (all codes but EMPTY_MESSAGE). */
  parseErrors: number;
  /** The same, per code. */
  parseErrorsByCode: Partial<Record<SipParseErrorCode, number>>;
  /** 400/505/513 sent for messages that failed to parse. */
  errorResponsesSent: number;
  /** Malformed input that could not be answered (responses, garbage, requests lacking Via/From/To/Call-ID/CSeq). */
  dropped: number;
  /** Datagrams above maxMessageSize, dropped unparsed. */
  oversizeDatagrams: number;
  serverTransactions: number;
  /** Request retransmissions matched to a live server transaction. */
  retransmissionsAbsorbed: number;
  /** Of those, how many got the last response again. */
  responsesRetransmitted: number;
  /** Server transactions the TU never answered (ended after 64·T1). */
  tuTimeouts: number;
  /** Handler exceptions or rejections (answered 400 for SipParseError, else 500). */
  handlerErrors: number;
  /** ACKs matching no transaction (this stack has no INVITE dialogs). */
  strayAcks: number;
  clientTransactions: number;
  /** Timer E retransmissions of requests we sent. */
  requestRetransmissions: number;
  clientTimeouts: number;
  /** Responses matching no client transaction. */
  strayResponses: number;
  /** Sends that failed (socket errors, closed connections, refused connects). */
  transportErrors: number;
  connectionsAccepted: number;
  connectionsOpened: number;
  /** Connections closed at once because maxConnections was reached. */
  connectionsRejected: number;
  /** Accepted connections closed at once because their source had maxConnectionsPerSource open. */
  connectionsRejectedPerSource: number;
  connectionsIdleClosed: number;
  /** Accepted connections closed because no complete message came within firstMessageTimeoutMs. */
  connectionsFirstMessageTimeout: number;
  connectionsClosed: number;
  /** Stream framing failures (connection closed afterwards). */
  framingErrors: number;
  /** Socket errors reported by the transports. */
  socketErrors: number;
  /** Unexpected exceptions caught at the stack boundary (bugs; logged). */
  internalErrors: number;
}

/** A zeroed {@link SipStats}. */
export function newStats(): SipStats {
  return {
    datagramsReceived: 0, streamMessagesReceived: 0, requestsReceived: 0, responsesReceived: 0, messagesSent: 0,
    keepalives: 0, parseErrors: 0, parseErrorsByCode: {}, errorResponsesSent: 0, dropped: 0, oversizeDatagrams: 0,
    serverTransactions: 0, retransmissionsAbsorbed: 0, responsesRetransmitted: 0, tuTimeouts: 0, handlerErrors: 0,
    strayAcks: 0, clientTransactions: 0, requestRetransmissions: 0, clientTimeouts: 0, strayResponses: 0,
    transportErrors: 0, connectionsAccepted: 0, connectionsOpened: 0, connectionsRejected: 0,
    connectionsRejectedPerSource: 0, connectionsIdleClosed: 0, connectionsFirstMessageTimeout: 0, connectionsClosed: 0,
    framingErrors: 0, socketErrors: 0, internalErrors: 0,
  };
}
