/**
 * A pcapng trace file (`--trace FILE`): every SIP and Diameter message the roles of this process send and receive,
 * one Enhanced Packet Block each, as exported PDUs (exported-pdu.ts) so Wireshark decodes them on any port without
 * TLS keys.
 *
 * Writes are batched: a record is encoded at once (its bytes copied) and queued; the queue goes to the file in one
 * `write` after the event-loop turn (`setImmediate`), never two writes at a time, so a record is on disk within a
 * turn plus one write, and a burst costs one syscall. Every write ends on a block boundary: a reader sees a valid
 * file at any time (the section length is -1, "still growing"). The queue is bounded ({@link TraceWriterOptions}):
 * beyond it records are dropped and counted, so a stalled disk cannot grow the process without limit. A failed
 * write stops the trace (logged once); the role goes on.
 *
 * One writer may serve several roles of a process (`mcx testbed`): a message one of them sent and another received
 * is recorded once, when sent. What was sent is remembered by its connection 4-tuple (a bounded table), and a
 * message received on a 4-tuple this writer sent on is skipped.
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

/** 4-tuples remembered as sent on (a connection or a UDP peer each). */
const SENT_TUPLES = 4096;
/** Addresses whose octets are kept ready. */
const ADDRESS_CACHE = 1024;

/** A trace file being written. */
export class TraceWriter implements MessageTrace {
  readonly path: string;
  readonly #fh: FileHandle;
  readonly #log: Logger | undefined;
  readonly #maxPending: number;
  readonly #sent = new BoundedMap<string, true>(SENT_TUPLES);
  readonly #ips = new BoundedMap<string, Buffer>(ADDRESS_CACHE);
  /** Microseconds since the epoch at hrtime 0: timestamps are monotonic within the file. */
  readonly #epochMicros: bigint;
  #queue: Buffer[] = [];
  #queued = 0;
  #scheduled = false;
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
    this.#epochMicros = BigInt(Date.now()) * 1000n - process.hrtime.bigint() / 1000n;
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
    if (direction === 'out') this.#sent.set(tuple, true);
    else if (this.#sent.peek(tuple) !== undefined) return;
    const s = this.#ip(src);
    const d = this.#ip(dst);
    if (!s || !d || this.#queued + data.length > this.#maxPending) {
      this.#dropped++;
      return;
    }
    const micros = this.#epochMicros + process.hrtime.bigint() / 1000n;
    const tags = exportedPduTags(protocol, transport === 'udp' ? EXP_PDU_PT_UDP : EXP_PDU_PT_TCP, { ip: s, port: srcPort }, { ip: d, port: dstPort });
    const block = enhancedPacketBlock(micros, tags, data);
    this.#queue.push(block);
    this.#queued += block.length;
    this.#schedule();
  }

  #ip(address: string): Buffer | undefined {
    let b = this.#ips.peek(address);
    if (b === undefined) {
      b = ipAddressBytes(address);
      if (b) this.#ips.set(address, b);
    }
    return b;
  }

  #schedule(): void {
    if (this.#scheduled || this.#writing) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#writing = this.#flush().finally(() => {
        this.#writing = undefined;
        if (this.#queue.length > 0 && this.#state === 'open') this.#schedule();
      });
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

  /** Resolves once every record made so far is in the file (tests; the stop). */
  async flushed(): Promise<void> {
    while (this.#writing || this.#scheduled || this.#queue.length > 0) {
      if (this.#writing) await this.#writing;
      else if (this.#queue.length > 0 && !this.#scheduled) this.#writing = this.#flush().finally(() => (this.#writing = undefined));
      else await new Promise<void>((r) => setImmediate(r));
      if (this.#state === 'failed') return;
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
