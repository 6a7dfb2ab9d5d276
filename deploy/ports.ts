/**
 * Free ports, for the testbed's services whose address must be known before they listen: an IdMS issuer URL names
 * its port, and the partner MMS tells UEs the registrar's address before the registrar is up. The port is free when
 * asked for; the testbed binds it a moment later (a race it accepts: a taken port fails the start with EADDRINUSE).
 */
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { createServer } from 'node:net';

/** A TCP port free right now on `host`. */
export function freeTcpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no TCP port'))));
    });
  });
}

/** A UDP port free right now on `host`. */
export function freeUdpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    sock.once('error', reject);
    sock.bind(0, host, () => {
      const port = sock.address().port;
      sock.close(() => resolve(port));
    });
  });
}
