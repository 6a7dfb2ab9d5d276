/**
 * Free ports, for services whose address must be known before they listen: an IdMS issuer URL names its port, the
 * partner MMS tells UEs the registrar's address before the registrar is up, a softphone's settings name its own SIP
 * port. The testbed, the tests (each file asks for its own, so files run in parallel), the benchmarks (through
 * deploy/ports.ts) and the UE's softphone files take them from here. The port is free when asked for and bound a
 * moment later (a race accepted: a taken port fails the start with EADDRINUSE). So that the race is rare, ports are
 * drawn at random *below* the kernel's ephemeral range (ip_local_port_range): a port handed out by `listen(0)` lies in
 * that range, which every outgoing connection's local port also comes from, and under load (a test run, a bench) one
 * of those took the port in between more than once; below it, only another explicit pick can.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { createServer } from 'node:net';
import { randomInt } from 'node:crypto';

/** The lowest port the kernel picks by itself (Linux; 32768 where unknown). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32768;
  } catch {
    return 32768;
  }
}

/** Where picks are drawn from: [16384, the ephemeral range's start), when that leaves room; else none (listen(0)). */
const PICK = ((): { from: number; to: number } | undefined => {
  const to = ephemeralLow();
  return to - 16384 >= 2048 ? { from: 16384, to } : undefined;
})();

/** Whether `port` can be bound for TCP on `host` right now. */
function tcpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** A TCP port free right now on `host`. */
export async function freeTcpPort(host: string): Promise<number> {
  if (PICK) {
    for (let i = 0; i < 64; i++) {
      const port = randomInt(PICK.from, PICK.to);
      if (await tcpFree(port, host)) return port;
    }
  }
  return anyTcpPort(host);
}

/** A port the kernel picks (in its ephemeral range). */
function anyTcpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no TCP port'))));
    });
  });
}

/**
 * A port free right now for both TCP and UDP on `host`: SIP on UDP and TCP shares one port (RFC 3263), which is all
 * a UE told `sip:host:port;transport=udp` can derive the TCP listener from.
 * @param avoid ports not to return (the TLS listener must differ from the TCP one).
 */
export async function freeSipPort(host: string, avoid: readonly number[] = []): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await freeTcpPort(host);
    if (avoid.includes(port)) continue;
    if (await udpFree(port, host)) return port;
  }
  throw new Error(`no port free for both UDP and TCP on ${host}`);
}

/** A port free right now for both TCP and UDP on `host` (SIP and Diameter peers listen on both or either). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return freeSipPort(host);
}

/** `n` distinct ports, each free right now for both TCP and UDP on `host`. */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort(host));
  return [...out];
}

function udpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    sock.once('error', () => resolve(false));
    sock.bind(port, host, () => sock.close(() => resolve(true)));
  });
}
