/**
 * What lib/sip and lib/diameter see of a trace: one call per whole message sent or received, with the addresses and
 * ports of the socket it crossed. The transports hold a `MessageTrace | undefined` and test it before anything else,
 * so tracing off costs one comparison per message. Flat arguments, no object per message.
 */

/** The application protocol of a message: the Wireshark dissector its record names. */
export type TraceProtocol = 'sip' | 'diameter';
/** The transport under it: TLS connections are `tcp` (a trace records what TLS carries, in plaintext). */
export type TraceTransport = 'udp' | 'tcp';
/** `out`: this process sent it; `in`: this process received it. */
export type TraceDirection = 'in' | 'out';

/** A sink for whole messages. */
export interface MessageTrace {
  /**
   * Records one message. The bytes are copied before this returns (the caller may reuse its buffer).
   * @param src the sending socket's IP address (IPv4-mapped IPv6 taken as IPv4) and port.
   * @param dst the receiving socket's.
   */
  record(protocol: TraceProtocol, transport: TraceTransport, direction: TraceDirection,
    src: string, srcPort: number, dst: string, dstPort: number, data: Buffer): void;
}
