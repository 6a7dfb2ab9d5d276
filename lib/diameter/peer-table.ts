/**
 * The node's peer table (RFC 6733 §2.6): configured peers it connects to, with reconnection and exponential
 * back-off, and peers that connected in. One entry per peer identity; at most one open connection per entry. The
 * election of §5.6.4 happens here, when a CER arrives from a peer we are connecting to at the same time: the side
 * whose Origin-Host sorts higher (ASCII case-insensitive) keeps the connection the other side initiated.
 *
 * A peer that runs as several processes (RFC 6733 §2.1: one connection per peer "unless multiple instances exist on
 * the peer, in which case a separate connection per process is allowed"; here `mcx <role> --workers N`, whose workers
 * share one Origin-Host) connects once per process. A second connection in of an identity this node does not connect
 * to itself is such an instance: kept beside the first (at most {@link MAX_INSTANCES}), requests to the identity
 * take the first open one, and the identity is down only when its last connection is. For a peer this node connects to
 * (configured), a second connection is refused as before: there the rule of one connection and the election hold.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../log.ts';
import type { DiameterMessage } from './codec.ts';
import { ResultCode } from './constants.ts';
import { sameIdentity } from './capabilities.ts';
import { PeerConnection } from './peer.ts';
import type { Admission, PeerConnectionOptions, PeerRole } from './peer.ts';
import type { Capabilities } from './peer-messages.ts';
import { connectTransport } from './transport.ts';
import type { TlsSettings } from './transport.ts';

/** A peer this node connects to. */
export interface PeerConfig {
  host: string;
  port: number;
  /** The peer's Origin-Host: checked against its CEA and, with TLS, its certificate name. */
  originHost?: string;
  tls?: TlsSettings;
}

/** Reconnection back-off. */
export interface ReconnectOptions {
  /** First delay (default 100 ms), doubled per failure… */
  initialMs?: number;
  /** …up to this (default 10 000 ms); each delay is jittered down by up to half. */
  maxMs?: number;
  /** After the peer's DPR with REBOOTING, wait at least this long (default 10 000 ms; BUSY or
   * DO_NOT_WANT_TO_TALK_TO_YOU: six times as long, RFC 6733 §5.4.3 "SHOULD NOT attempt reconnection"). */
  afterDprMs?: number;
}

/** A peer as the hooks and `peers()` report it. */
export interface PeerEvent {
  originHost: string;
  originRealm: string;
  remoteAddress: string;
  role: PeerRole;
  /**
   * The configured peer (`addPeer`) this connection belongs to, as configured: what tells apart peers that share an
   * IP (the transport reports the remote IP only). Absent for a peer that is not configured here.
   */
  configured?: { host: string; port: number };
}

/** Peer-table events, re-emitted by the node. */
export interface PeerTableEvents {
  [key: string]: unknown;
  peerUp: PeerEvent;
  peerDown: PeerEvent & { reason: string };
  peerSuspect: PeerEvent;
  peerRecovered: PeerEvent;
}

/** What the table needs from its node. */
export interface PeerTableEnv {
  /** Connection options except socket, role, hooks and the expected host. */
  connection: Omit<PeerConnectionOptions, 'socket' | 'role' | 'hooks' | 'expectedOriginHost'>;
  connectTimeoutMs: number;
  reconnect: ReconnectOptions;
  acceptUnknownPeers: boolean;
  log: Logger;
  events: { emit<K extends keyof PeerTableEvents>(event: K, payload: PeerTableEvents[K]): void };
  onRequest(conn: PeerConnection, msg: DiameterMessage): void;
}

/** Connections one unconfigured peer identity may hold at once (its processes). */
export const MAX_INSTANCES = 64;

interface Entry {
  config?: PeerConfig;
  identity?: string;
  open?: PeerConnection;
  /** Further open connections of the same identity: other processes of a peer with several instances. */
  instances?: PeerConnection[];
  initiating?: PeerConnection;
  connecting: boolean;
  attempt: number;
  /** Why the last connection attempt failed (cleared when one opens). */
  lastError?: string;
  timer?: NodeJS.Timeout;
  holdMs: number;
}

function eventOf(conn: PeerConnection, entry?: Entry): PeerEvent {
  const configured = entry?.config ? { configured: { host: entry.config.host, port: entry.config.port } } : {};
  return { originHost: conn.originHost ?? '?', originRealm: conn.originRealm ?? '?', remoteAddress: conn.remoteAddress, role: conn.role, ...configured };
}

/** A configured peer with no open connection (`DiameterNode.unconnectedPeers`, the testbed's status page). */
export interface UnconnectedPeer {
  /** `host:port` as configured. */
  target: string;
  originHost?: string;
  /** A connection is being made (transport or capabilities exchange), or the next try waits for its back-off. */
  state: 'connecting' | 'waiting';
  /** Failed attempts since the peer was last open. */
  failedAttempts: number;
  lastError?: string;
}

/** Configured and connected peers. */
export class PeerTable {
  private readonly entries: Entry[] = [];
  private readonly owner = new Map<PeerConnection, Entry>();
  private readonly all = new Set<PeerConnection>();
  private stopped = false;

  /** @param env the node's settings and callbacks. */
  constructor(private readonly env: PeerTableEnv) {}

  /** Open connections in table order (configured peers first, in the order they were added). */
  open(): PeerConnection[] {
    return this.entries.flatMap((e) => (e.open ? [e.open, ...(e.instances ?? [])] : []).filter((c) => c.state === 'open'));
  }

  /** Every live connection, open or not. */
  connections(): PeerConnection[] {
    return [...this.all];
  }

  /** The configured peers without an open connection: being connected, or waiting to try again. */
  unconnected(): UnconnectedPeer[] {
    return this.entries.filter((e) => e.config && !e.open).map((e) => {
      const c = e.config as PeerConfig;
      return {
        target: `${c.host}:${c.port}`, ...(c.originHost === undefined ? {} : { originHost: c.originHost }),
        state: e.connecting || e.initiating ? 'connecting' : 'waiting', failedAttempts: e.attempt, ...(e.lastError ? { lastError: e.lastError } : {}),
      };
    });
  }

  /** Adds a peer to connect to, and connects. */
  add(config: PeerConfig): void {
    const entry: Entry = { config, connecting: false, attempt: 0, holdMs: 0 };
    if (config.originHost !== undefined) entry.identity = config.originHost.toLowerCase();
    this.entries.push(entry);
    this.connect(entry);
  }

  /** Takes an accepted socket as a responder connection. */
  accept(socket: Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    this.start(new PeerConnection({ ...this.env.connection, socket, role: 'responder', hooks: this.hooks() }));
  }

  /**
   * Stops reconnecting and disconnects every connection: DPR to open ones (bounded wait for DPA), close the rest.
   * @param disconnectCause a DisconnectCause value.
   */
  async stop(disconnectCause: number): Promise<void> {
    this.stopped = true;
    for (const e of this.entries) clearTimeout(e.timer);
    await Promise.all([...this.all].map((c) => c.disconnect(disconnectCause, 'local node closing')));
  }

  private start(conn: PeerConnection): void {
    this.all.add(conn);
    conn.start();
  }

  private connect(entry: Entry): void {
    const config = entry.config as PeerConfig;
    entry.connecting = true;
    const target = `${config.host}:${config.port}`;
    connectTransport({
      host: config.host,
      port: config.port,
      timeoutMs: this.env.connectTimeoutMs,
      ...(config.tls ? { tls: config.tls } : {}),
      ...(config.originHost === undefined ? {} : { expectedHost: config.originHost }),
    }).then(
      (socket) => {
        entry.connecting = false;
        if (this.stopped || entry.open) {
          socket.destroy();
          return;
        }
        const conn = new PeerConnection({
          ...this.env.connection,
          socket,
          role: 'initiator',
          hooks: this.hooks(),
          ...(config.originHost === undefined ? {} : { expectedOriginHost: config.originHost }),
        });
        this.owner.set(conn, entry);
        entry.initiating = conn;
        this.start(conn);
      },
      (err: NodeJS.ErrnoException) => {
        entry.connecting = false;
        const reason = err.code ?? err.message;
        entry.lastError = reason;
        const tlsRefusal = /CERT|SELF_SIGNED|TLS|SSL/.test(reason);
        const msg = tlsRefusal
          ? `TLS server ${target} refused: ${reason} (expected ${config.tls?.servername ?? config.originHost ?? config.host})`
          : `cannot connect to Diameter peer ${target}: ${reason}`;
        // A peer that is down is routine after the first attempt; a certificate problem never is.
        if (tlsRefusal) this.env.log.warn({ peer: config.originHost, target, reason }, msg);
        else if (entry.attempt === 0) this.env.log.info({ peer: config.originHost, target, reason }, msg);
        else this.env.log.debug({ peer: config.originHost, target, reason }, msg);
        this.schedule(entry);
      },
    );
  }

  private schedule(entry: Entry): void {
    if (this.stopped || !entry.config || entry.open || entry.initiating || entry.connecting || entry.timer) return;
    const initial = this.env.reconnect.initialMs ?? 100;
    const max = this.env.reconnect.maxMs ?? 10_000;
    const base = Math.min(max, initial * 2 ** Math.min(entry.attempt, 30));
    const delay = Math.max(entry.holdMs, Math.round(base / 2 + (Math.random() * base) / 2));
    entry.attempt += 1;
    entry.holdMs = 0;
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (!this.stopped && !entry.open) this.connect(entry);
    }, delay);
    entry.timer.unref();
  }

  private find(identity: string): Entry | undefined {
    return this.entries.find((e) => sameIdentity(e.identity, identity));
  }

  private hooks(): PeerConnectionOptions['hooks'] {
    return {
      admit: (conn, caps) => this.admit(conn, caps),
      opened: (conn) => {
        const entry = this.owner.get(conn) as Entry;
        if (entry.open && entry.open !== conn) {
          (entry.instances ??= []).push(conn);
          this.env.log.info({ peer: conn.originHost, connections: entry.instances.length + 1 }, `another instance of ${conn.originHost ?? '?'} connected (RFC 6733 §2.1)`);
          return;
        }
        entry.open = conn;
        if (entry.initiating === conn) entry.initiating = undefined;
        entry.attempt = 0;
        delete entry.lastError;
        this.env.events.emit('peerUp', eventOf(conn, entry));
      },
      request: (conn, msg) => this.env.onRequest(conn, msg),
      health: (conn, okay) => this.env.events.emit(okay ? 'peerRecovered' : 'peerSuspect', eventOf(conn, this.owner.get(conn))),
      closed: (conn, reason, cause) => this.closed(conn, reason, cause),
    };
  }

  private admit(conn: PeerConnection, caps: Capabilities): Admission {
    const identity = caps.originHost.toLowerCase();
    if (sameIdentity(identity, this.env.connection.local.originHost)) {
      return { accept: false, resultCode: ResultCode.UNKNOWN_PEER, reason: 'peer claims our own Origin-Host' };
    }
    let entry = this.owner.get(conn) ?? this.find(identity);
    if (entry?.open && entry.open !== conn) {
      const another = conn.role === 'responder' && !entry.config && !entry.initiating && !entry.connecting && (entry.instances?.length ?? 0) + 1 < MAX_INSTANCES;
      if (!another) return { accept: false, resultCode: ResultCode.UNABLE_TO_COMPLY, reason: `a connection with ${caps.originHost} is already open` };
      this.owner.set(conn, entry);
      return { accept: true };
    }
    if (conn.role === 'responder') {
      if (!entry) {
        if (!this.env.acceptUnknownPeers) return { accept: false, resultCode: ResultCode.UNKNOWN_PEER, reason: `${caps.originHost} is not a configured peer` };
        entry = { connecting: false, attempt: 0, holdMs: 0 };
        this.entries.push(entry);
      } else if (entry.initiating || entry.connecting) {
        const won = this.env.connection.local.originHost.toLowerCase() > identity;
        this.env.log.info({ peer: caps.originHost, won }, `election with ${caps.originHost}: ${won ? 'won, keeping its connection' : 'lost, keeping ours'}`);
        if (!won) return { accept: false, resultCode: ResultCode.ELECTION_LOST, reason: 'election lost' };
        const mine = entry.initiating;
        entry.initiating = undefined;
        if (mine) {
          this.owner.delete(mine);
          mine.close('election won: closing the connection we initiated');
        }
      }
      this.owner.set(conn, entry);
    }
    entry = entry as Entry;
    entry.identity = identity;
    return { accept: true };
  }

  private closed(conn: PeerConnection, reason: string, disconnectCause: number | undefined): void {
    this.all.delete(conn);
    const entry = this.owner.get(conn);
    this.owner.delete(conn);
    if (!entry) return;
    if (entry.initiating === conn) entry.initiating = undefined;
    if (entry.config && entry.open === undefined) entry.lastError = reason;
    if (entry.instances?.includes(conn)) {
      entry.instances = entry.instances.filter((c) => c !== conn);
      return;
    }
    if (entry.open === conn) {
      // Another instance of the peer takes over; the identity is down with its last connection.
      entry.open = entry.instances?.shift();
      if (entry.open) return;
      this.env.events.emit('peerDown', { ...eventOf(conn, entry), reason });
      if (entry.config) entry.lastError = reason;
    }
    if (disconnectCause !== undefined) {
      const after = this.env.reconnect.afterDprMs ?? 10_000;
      entry.holdMs = disconnectCause === 0 ? after : after * 6;
    }
    this.schedule(entry);
  }
}
