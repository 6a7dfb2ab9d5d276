/**
 * Diameter transports: TCP, and TLS from the first byte (RFC 6733 §13: the handshake precedes CER/CEA, no
 * Inband-Security-Id negotiation). TLS is always mutual (§13.1): the server asks for and verifies a client
 * certificate, the client verifies the server against the peer's configured host name.
 *
 * Why the server verifies the client chain itself instead of `rejectUnauthorized: true`: Node's server then
 * destroys the socket silently (`tlsClientError` only says "socket hang up"), and a refusal must be logged with who
 * and why. The check below is the same one (`socket.authorized`, computed by OpenSSL against `ca`), run before a
 * single Diameter octet is read.
 */
import { connect as tcpConnect, createServer as createTcpServer, isIP } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import type { ConnectionOptions, PeerCertificate, TLSSocket } from 'node:tls';
import type { Logger } from '../log.ts';
import { sharedBindOptions } from '../workers/group.ts';
import { plainAddress } from './capabilities.ts';
import { onreadOption, readAcceptedThroughSink, setReadSink } from './read-sink.ts';

/** Mutual-TLS material (PEM), e.g. from `certs/layout.ts` `loadTlsMaterial`. */
export interface TlsSettings {
  cert: string | Buffer;
  key: string | Buffer;
  /** Trusted CAs: the own system's, plus peer systems' for inter-system links. */
  ca: string | Buffer | ReadonlyArray<string | Buffer>;
  /** Client only: the name the server certificate must carry (default: the peer's Origin-Host, else its host). */
  servername?: string;
}

/** Where to listen. */
export interface ListenAddress {
  host: string;
  port: number;
  tls?: TlsSettings;
}

/** Where to connect. */
export interface ConnectAddress {
  host: string;
  port: number;
  tls?: TlsSettings;
  /** The host name the server certificate is checked against (TLS only). */
  expectedHost?: string;
  /** Gives up after this long (Wait-Conn-Ack). */
  timeoutMs: number;
}

/** A listening socket. */
export interface TransportListener {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  close(): Promise<void>;
}

/** `ip:port` of the far end, for logs. */
export function describeRemote(socket: Socket): string {
  const host = plainAddress(socket.remoteAddress ?? '?');
  return isIP(host) === 6 ? `[${host}]:${socket.remotePort ?? '?'}` : `${host}:${socket.remotePort ?? '?'}`;
}

function caList(ca: TlsSettings['ca']): string | Buffer | Array<string | Buffer> {
  return typeof ca === 'string' || Buffer.isBuffer(ca) ? ca : [...ca];
}

function tune(socket: Socket): void {
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 10_000);
}

function certSummary(cert: PeerCertificate | undefined): { subject?: string; issuer?: string } {
  if (!cert || Object.keys(cert).length === 0) return {};
  const cn = (name: unknown): string | undefined => {
    const v = (name as Record<string, string | string[]> | undefined)?.CN;
    return Array.isArray(v) ? v.join(',') : v;
  };
  const out: { subject?: string; issuer?: string } = {};
  const subject = cn(cert.subject);
  const issuer = cn(cert.issuer);
  if (subject !== undefined) out.subject = subject;
  if (issuer !== undefined) out.issuer = issuer;
  return out;
}

/**
 * Listens for Diameter connections; each accepted (and, for TLS, authenticated) socket goes to `onSocket`.
 * @param log refusals are logged at warn with the remote address, the certificate subject/issuer and the reason.
 * @returns once bound; `port` is the bound port (0 asks for an ephemeral one).
 */
export function listenTransport(address: ListenAddress, onSocket: (socket: Socket) => void, log: Logger): Promise<TransportListener> {
  let server: Server;
  if (address.tls) {
    const tls = address.tls;
    server = createTlsServer({ cert: tls.cert, key: tls.key, ca: caList(tls.ca), requestCert: true, rejectUnauthorized: false });
    server.on('secureConnection', (socket: TLSSocket) => {
      const remote = describeRemote(socket);
      if (!socket.authorized) {
        const cert = certSummary(socket.getPeerCertificate());
        const reason = cert.subject === undefined ? 'NO_CLIENT_CERTIFICATE' : String(socket.authorizationError);
        log.warn({ remote, ...cert, reason }, `TLS client ${remote} refused: certificate not trusted (${reason})`);
        socket.destroy();
        return;
      }
      tune(socket);
      readAcceptedThroughSink(socket);
      onSocket(socket);
    });
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      const remote = describeRemote(socket);
      log.warn({ remote, reason: err.code ?? err.message }, `TLS client ${remote} refused: handshake failed (${err.code ?? err.message})`);
    });
  } else {
    server = createTcpServer((socket) => {
      tune(socket);
      readAcceptedThroughSink(socket);
      onSocket(socket);
    });
  }
  server.on('error', (err) => log.error({ err }, 'Diameter listener error'));
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    // In a worker group (lib/workers) the workers share the port; each accepted connection is one worker's.
    server.listen({ port: address.port, host: address.host, ...sharedBindOptions() }, () => {
      server.off('error', onError);
      const bound = server.address() as AddressInfo;
      resolve({
        host: address.host,
        port: bound.port,
        tls: address.tls !== undefined,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}

/**
 * Opens a connection; for TLS, resolves only after the handshake verified the server chain and its name.
 * @throws the socket error (ECONNREFUSED, ERR_TLS_CERT_ALTNAME_INVALID, SELF_SIGNED_CERT_IN_CHAIN, …) or a timeout.
 */
export function connectTransport(address: ConnectAddress): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let socket: Socket;
    const tls = address.tls;
    // Read through a buffer of the connection's own, not 'data' events (read-sink.ts).
    const { sink, option: onread } = onreadOption();
    if (tls) {
      const expected = tls.servername ?? address.expectedHost ?? address.host;
      // tls.connect hands `onread` to the socket it makes (Node's _tls_wrap); @types/node leaves it out of its options.
      const options: ConnectionOptions & { onread: typeof onread } = {
        host: address.host,
        port: address.port,
        cert: tls.cert,
        key: tls.key,
        ca: caList(tls.ca),
        rejectUnauthorized: true,
        // SNI may not carry an IP address; the identity check below does not depend on it.
        ...(isIP(expected) ? {} : { servername: expected }),
        checkServerIdentity: (_host, cert) => checkServerIdentity(expected, cert),
        onread,
      };
      socket = tlsConnect(options);
    } else {
      socket = tcpConnect({ host: address.host, port: address.port, onread });
    }
    setReadSink(socket, sink);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`connect to ${address.host}:${address.port} timed out after ${address.timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, address.timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      tune(socket);
      resolve(socket);
    });
  });
}
