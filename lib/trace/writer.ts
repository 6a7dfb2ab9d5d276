/**
 * A pcapng trace file (`--trace FILE`): every SIP and Diameter message the roles of this process send and receive,
 * one Enhanced Packet Block each, as exported PDUs (exported-pdu.ts) so Wireshark decodes them on any port without
 * TLS keys.
 *
 * Writes are batched: a record is encoded at once (its bytes copied) and queued; the queue goes to the file in one
 * `write` {@link FLUSH_MS} after its first record (at once, after the event-loop turn, when it holds
 * {@link FLUSH_BYTES}), never two writes at a time: a record is on disk within a fifth of a second plus one write,
 * and a role under load makes a few writes a second, not one per message (a write per event-loop turn added about half
 * again to each role's CPU per registration; `npm run bench -- --trace DIR`). Every write ends on a block boundary: a
 * reader sees a valid file at any time (the section length is -1, "still growing"). The queue is bounded
 * ({@link TraceWriterOptions}): beyond it records are dropped and counted, so a stalled disk cannot grow the process
 * without limit. A failed write stops the trace (logged once); the role goes on.
 *
 * One writer may serve several roles of a process (`mcx testbed`): a message one of them sent and another received
 * is recorded once, when sent. What was sent is remembered by its connection 4-tuple (a bounded table), and a
 * message received on a 4-tuple this writer sent on is skipped. The exported-PDU tags of a 4-tuple are made once and
 * kept in a table of the same size.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { BoundedMap } from '../bounded-map.ts';
import { ConfigFileError } from '../config/files.ts';
import type { Logger } from '../log.ts';
import { EXP_PDU_PT_TCP, EXP_PDU_PT_UDP, exportedPduTags, ipAddressBytes } from './exported-pdu.ts';
import { LINKTYPE_WIRESHARK_UPPER_PDU, enhancedPacketBlock, interfaceDescriptionBlock, sectionHeaderBlock } from './pcapng.ts';
import type { MessageTrace, TraceDirection, TraceProtocol, TraceTransport } from './types.ts';

/** Options of {@link TraceWriter.open}. */
export interface TraceWriterOptions {
  /** Write failures and the closing summary. */
  logger?: Logger;
  /** Queued octets beyond which records are dropped (default 64 MiB). */
  maxPendingBytes?: number;
  /** The option the path came from, for the error of a file that cannot be opened (default `trace`). */
  option?: string;
}

/** 4-tuples remembered as sent on (a connection or a UDP peer each), and 4-tuples whose tags are kept ready. */
const TUPLES = 4096;
/** How long the first record of a batch waits for others before the batch is written. */
export const FLUSH_MS = 200;
/** A batch this large is written after the current event-loop turn, without waiting for {@link FLUSH_MS}. */
export const FLUSH_BYTES = 1024 * 1024;

/** A trace file being written. */
export class TraceWriter implements MessageTrace {
  readonly path: string;
  readonly #fh: FileHandle;
  readonly #log: Logger | undefined;
  readonly #maxPending: number;
  readonly #sent = new BoundedMap<string, true>(TUPLES);
  readonly #tags = new BoundedMap<string, Buffer>(TUPLES);
  #queue: Buffer[] = [];
  #queued = 0;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #writing: Promise<void> | undefined;
  #state: 'open' | 'failed' | 'closed' = 'open';
  #closing: Promise<void> | undefined;
  #records = 0;
  #dropped = 0;

  private constructor(path: string, fh: FileHandle, o: TraceWriterOptions) {
    this.path = path;
    this.#fh = fh;
    this.#log = o.logger;
    this.#maxPending = o.maxPendingBytes ?? 64 * 1024 * 1024;
  }

  /**
   * Creates (or truncates) `path`, mode 0600 (a trace holds what TLS protects: AKA vectors, digest responses), and
   * writes the section and interface headers, so the file is a valid, empty capture when this resolves.
   * @throws ConfigFileError `--trace path: EACCES` and the like.
   */
  static async open(path: string, o: TraceWriterOptions = {}): Promise<TraceWriter> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'w', 0o600);
    } catch (e) {
      throw new ConfigFileError(`--${o.option ?? 'trace'} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    try {
      const head = Buffer.concat([sectionHeaderBlock('mcx-migrate'), interfaceDescriptionBlock(LINKTYPE_WIRESHARK_UPPER_PDU, 'mcx-trace')]);
      await writeAll(fh, head);
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw new ConfigFileError(`--${o.option ?? 'trace'} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return new TraceWriter(path, fh, o);
  }

  /** Records written to the file so far. */
  get records(): number {
    return this.#records;
  }

  /** Records dropped (queue full, unknown address form, or after a write failure). */
  get dropped(): number {
    return this.#dropped;
  }

  /** See {@link MessageTrace.record}. */
  record(protocol: TraceProtocol, transport: TraceTransport, direction: TraceDirection,
    src: string, srcPort: number, dst: string, dstPort: number, data: Buffer): void {
    if (this.#state !== 'open') return;
    const tuple = `${transport}|${plain(src)}|${srcPort}|${plain(dst)}|${dstPort}`;
    // peek, not get: first in, first forgotten is enough (a sent tuple that was forgotten is added again by its next
    // send, before its receiver looks), and a touch per message would cost a delete and an insert.
    if (direction === 'out') {
      if (this.#sent.peek(tuple) === undefined) this.#sent.set(tuple, true);
    } else if (this.#sent.peek(tuple) !== undefined) {
      return;
    }
    const key = protocol === 'sip' ? tuple : `d|${tuple}`;
    let tags = this.#tags.peek(key);
    if (tags === undefined) {
      const s = ipAddressBytes(src);
      const d = ipAddressBytes(dst);
      if (s && d) {
        tags = exportedPduTags(protocol, transport === 'udp' ? EXP_PDU_PT_UDP : EXP_PDU_PT_TCP, { ip: s, port: srcPort }, { ip: d, port: dstPort });
        this.#tags.set(key, tags);
      }
    }
    if (tags === undefined || this.#queued + data.length > this.#maxPending) {
      this.#dropped++;
      return;
    }
    // performance.timeOrigin + now(): wall-clock microseconds, monotonic within the process (53 bits hold them).
    const block = enhancedPacketBlock(Math.round((performance.timeOrigin + performance.now()) * 1000), tags, data);
    this.#queue.push(block);
    this.#queued += block.length;
    this.#schedule();
  }

  /** Plans the next write: after {@link FLUSH_MS}, or after this turn once the queue holds {@link FLUSH_BYTES}. */
  #schedule(): void {
    if (this.#writing) return; // its end plans the next one
    if (this.#queued >= FLUSH_BYTES) {
      if (this.#immediate) return;
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#immediate = setImmediate(() => this.#write());
    } else if (!this.#timer && !this.#immediate) {
      this.#timer = setTimeout(() => this.#write(), FLUSH_MS);
      // close() writes what is queued; a pending batch alone must not keep a process alive.
      this.#timer.unref();
    }
  }

  /** Starts writing the queue now (one write at a time); the next batch is planned when it is done. */
  #write(): void {
    clearTimeout(this.#timer);
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#timer = undefined;
    this.#immediate = undefined;
    if (this.#writing) return;
    this.#writing = this.#flush().finally(() => {
      this.#writing = undefined;
      if (this.#queue.length > 0 && this.#state === 'open') this.#schedule();
    });
  }

  /** Writes the queue in one write. */
  async #flush(): Promise<void> {
    if (this.#queue.length === 0 || this.#state === 'failed') return;
    const batch = this.#queue;
    this.#queue = [];
    this.#queued = 0;
    try {
      await writeAll(this.#fh, batch.length === 1 ? batch[0] as Buffer : Buffer.concat(batch));
      this.#records += batch.length;
    } catch (e) {
      this.#state = 'failed';
      this.#dropped += batch.length;
      this.#log?.error({ file: this.path, err: (e as Error).message }, `trace ${this.path}: write failed; tracing stopped (the file holds the records before)`);
    }
  }

  /** Resolves once every record made so far is in the file, writing what is queued now (tests; the stop). */
  async flushed(): Promise<void> {
    for (;;) {
      if (this.#writing) {
        await this.#writing;
        continue;
      }
      if (this.#queue.length === 0 || this.#state === 'failed') return;
      this.#write();
    }
  }

  /** Writes what is queued and closes the file (idempotent); records made afterwards are ignored. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.flushed();
      if (this.#state === 'open') this.#state = 'closed';
      await this.#fh.close().catch(() => undefined);
      this.#log?.info({ file: this.path, records: this.#records, dropped: this.#dropped }, `trace ${this.path} closed: ${this.#records} messages`);
    })();
    return this.#closing;
  }
}

/** `::ffff:a.b.c.d` as `a.b.c.d`: one socket reports the mapped form of what its peer reports plainly. */
function plain(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** Writes all of `buf` (a regular file may take it in parts). */
async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
  }
}
