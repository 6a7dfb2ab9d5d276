/**
 * Identifier generators: Session-Id (RFC 6733 §8.8), End-to-End (§3) and Hop-by-Hop (§3) identifiers. Each
 * generator is per process (per Diameter identity for Session-Ids); clock and randomness are injectable for tests.
 */
import { randomInt } from 'node:crypto';

const NTP_TO_UNIX = 2208988800;
const U32 = 0x100000000;

/** Injectable time source (milliseconds since the Unix epoch). */
export type Clock = () => number;

/**
 * Session-Ids `<DiameterIdentity>;<high 32>;<low 32>[;<optional>]`, the two numbers being the decimal halves of a
 * 64-bit counter whose high half starts at the NTP time of construction and low half at zero (RFC 6733 §8.8), so ids
 * stay unique across restarts more than a second apart.
 */
export class SessionIdGenerator {
  private high: number;
  private low = 0;

  /**
   * @param identity this node's DiameterIdentity (its Origin-Host).
   * @param now clock, for tests.
   */
  constructor(private readonly identity: string, now: Clock = Date.now) {
    this.high = (Math.floor(now() / 1000) + NTP_TO_UNIX) % U32;
  }

  /**
   * The next Session-Id.
   * @param optional implementation-defined suffix (must not contain `;` to stay parseable).
   */
  next(optional?: string): string {
    const id = `${this.identity};${this.high};${this.low}${optional === undefined ? '' : `;${optional}`}`;
    this.low += 1;
    if (this.low === U32) {
      this.low = 0;
      this.high = (this.high + 1) % U32;
    }
    return id;
  }
}

/**
 * End-to-End identifiers: the high 12 bits start as the low 12 bits of the current time in seconds, the low 20 bits
 * at a random value (RFC 6733 §3), then the whole 32-bit value increases by one per request.
 */
export class EndToEndIdGenerator {
  private value: number;

  /**
   * @param now clock, for tests.
   * @param random20 source of the initial low 20 bits, for tests.
   */
  constructor(now: Clock = Date.now, random20: () => number = () => randomInt(0x100000)) {
    this.value = ((((Math.floor(now() / 1000) & 0xfff) << 20) >>> 0) | (random20() & 0xfffff)) >>> 0;
  }

  /** The next End-to-End identifier. */
  next(): number {
    const v = this.value;
    this.value = (this.value + 1) % U32;
    return v;
  }
}

/** Hop-by-Hop identifiers: a random start, then increasing (RFC 6733 §3), unique per connection while outstanding. */
export class HopByHopIdGenerator {
  private value: number;

  /** @param start initial value, for tests (default random). */
  constructor(start: number = randomInt(0, U32 - 1)) {
    this.value = start >>> 0;
  }

  /** The next Hop-by-Hop identifier. */
  next(): number {
    const v = this.value;
    this.value = (this.value + 1) % U32;
    return v;
  }
}
