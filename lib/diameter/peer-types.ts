/**
 * Types shared by a peer connection (`peer.ts`) and the node's peer table: states, hooks, options, and the error a
 * pending request fails with when its connection goes away.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../log.ts';
import type { MessageTrace } from '../trace/types.ts';
import type { DiameterMessage } from './codec.ts';
import type { ValidateOptions } from './message.ts';
import type { Dictionary } from './dictionary/index.ts';
import type { Capabilities } from './peer-messages.ts';
import type { LocalIdentity } from './capabilities.ts';
import type { WatchdogOptions } from './watchdog.ts';
import type { PeerConnection } from './peer.ts';

/** Where a connection is in its life. */
export type PeerState = 'wait-cer' | 'wait-i-cea' | 'open' | 'closing' | 'closed';
/** Who opened the transport connection. */
export type PeerRole = 'initiator' | 'responder';

/** The node's verdict on a peer that completed the capabilities exchange. */
export type Admission = { accept: true } | { accept: false; resultCode: number; reason: string };

/** What a connection reports to its node. */
export interface PeerHooks {
  /** May this peer open (duplicate connection, election, unknown peer)? Called after the local checks passed. */
  admit(conn: PeerConnection, caps: Capabilities): Admission;
  opened(conn: PeerConnection): void;
  /** An application request (anything but CER/DWR/DPR); the node answers with `conn.send`. */
  request(conn: PeerConnection, msg: DiameterMessage): void;
  /** The watchdog went SUSPECT (`false`) or back to OKAY (`true`). */
  health(conn: PeerConnection, okay: boolean): void;
  /** Called once. `disconnectCause` is set when the peer sent DPR. */
  closed(conn: PeerConnection, reason: string, disconnectCause?: number): void;
}

/** Timers and limits of one connection. */
export interface PeerTimers {
  watchdog: WatchdogOptions;
  /** Wait-I-CEA and Wait-CER limit. */
  capabilitiesMs: number;
  /** How long a DPR waits for its DPA. */
  dpaMs: number;
}

/** Everything a connection needs. */
export interface PeerConnectionOptions {
  socket: Socket;
  role: PeerRole;
  local: LocalIdentity;
  hooks: PeerHooks;
  logger: Logger;
  timers: PeerTimers;
  dictionary: Dictionary;
  validate?: ValidateOptions;
  maxMessageSize?: number;
  /** Longest a batch of writes waits for more under load (DiameterNodeOptions.writeHoldMs, lib/cork.ts); default 0. */
  writeHoldMs?: number;
  /** Roles a peer of another realm may hold (responder side; admission.ts). */
  foreignRoles: readonly string[];
  /** Initiator: the Origin-Host the peer is configured as; a CEA from anyone else is refused. */
  expectedOriginHost?: string;
  /** End-to-End ids for CER/DWR/DPR (shared by the node). */
  nextEndToEnd: () => number;
  /** Records every message of the connection (lib/trace; `--trace`). */
  trace?: MessageTrace;
}
