/**
 * SIPp scenarios for the registrar tests, built from the proven ../shared/peers/sipp-register-aka.xml.tmpl (through
 * test/helpers/sipp.ts's `writeAkaScenario`, so keys are escaped the way SIPp 3.6.1 reads them): its one exchange
 * REGISTER (24.229 initial form) → 401 → REGISTER with `[authentication …]` → 200, repeated in one call. Our
 * registrar challenges every REGISTER that carries no fresh nonce, so each repetition is again 401 → 200 with a fresh
 * vector. SIPp cannot take per-call keys from an injection file (`[authentication aka_K=[field0]]` does not nest),
 * so each user gets its own file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { writeAkaScenario, type SippUser } from '../helpers/sipp.ts';

/** How the exchanges of a scenario differ. */
export interface RoundsOptions {
  /** Exchanges in the call (≥ 1): the first registers, the others re-register. */
  rounds: number;
  /** `Expires` of the last exchange (default 3600 like the others; 0 de-registers). */
  lastExpires?: number;
}

/**
 * Writes a scenario of `rounds` exchanges for `u` into `dir` (CSeq 1…2·rounds in one Call-ID).
 * @returns its path.
 */
export function writeRoundsScenario(u: SippUser, dir: string, o: RoundsOptions): string {
  const file = writeAkaScenario(u, dir);
  const xml = readFileSync(file, 'utf8');
  const open = xml.indexOf('>', xml.indexOf('<scenario')) + 1;
  const close = xml.lastIndexOf('</scenario>');
  const exchange = xml.slice(open, close);
  if (!exchange.includes('CSeq: 1 REGISTER') || !exchange.includes('CSeq: 2 REGISTER') || !exchange.includes('Expires: 3600')) {
    throw new Error('the SIPp template changed: CSeq 1/2 and Expires 3600 lines expected');
  }
  const rounds = Array.from({ length: o.rounds }, (_, n) => {
    const last = n === o.rounds - 1;
    return exchange
      .replace('CSeq: 1 REGISTER', `CSeq: ${2 * n + 1} REGISTER`)
      .replace('CSeq: 2 REGISTER', `CSeq: ${2 * n + 2} REGISTER`)
      .replaceAll('Expires: 3600', `Expires: ${last ? o.lastExpires ?? 3600 : 3600}`);
  });
  const out = file.replace(/\.xml$/, `-${o.rounds}x${o.lastExpires === undefined ? '' : `-exp${o.lastExpires}`}.xml`);
  writeFileSync(out, xml.slice(0, open) + rounds.join('\n  <pause milliseconds="20"/>\n') + xml.slice(close));
  return out;
}
