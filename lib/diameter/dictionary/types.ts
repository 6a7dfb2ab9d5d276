/**
 * Shapes of the dictionary: AVP definitions with their flag rules (RFC 6733 §4.5 tables, TS 29.229 Table 6.3.1) and
 * command definitions written in the specs' own Command Code Format (RFC 6733 §3.2), so a reviewer can hold the ABNF
 * of the spec next to ours. The CCF strings are parsed once when the Dictionary is built.
 */
import type { AvpType } from '../values.ts';

/** How a flag bit must be set: the "MUST", "MAY" and "MUST NOT" columns of the AVP tables. */
export type FlagRule = 'must' | 'may' | 'mustNot';

/** One AVP as the specs define it. */
export interface AvpDef {
  readonly name: string;
  readonly code: number;
  /** 0 for IETF AVPs (no V bit). */
  readonly vendorId: number;
  readonly type: AvpType;
  readonly vBit: FlagRule;
  readonly mBit: FlagRule;
  /** Named values of an Enumerated AVP (or well-known values of an Unsigned32 one). */
  readonly values?: Readonly<Record<string, number>>;
  /** CCF of a Grouped AVP's content, e.g. `'{ Vendor-Id } [ Auth-Application-Id ]'`. */
  readonly group?: string;
  /** Content is arbitrary AVPs that must not be validated (Failed-AVP carries the very AVPs that failed). */
  readonly opaque?: boolean;
}

/** One line of a CCF: how often an AVP may occur. */
export interface AvpRule {
  readonly name: string;
  readonly min: number;
  /** `Infinity` when unbounded. */
  readonly max: number;
}

/** A parsed CCF body. */
export interface Format {
  readonly rules: readonly AvpRule[];
  /** `*[ AVP ]` present: AVPs not listed are allowed. */
  readonly allowsOther: boolean;
}

/** The request or answer half of a command. */
export interface CommandFormat extends Format {
  readonly name: string;
  readonly abbrev: string;
}

/** A command as defined by its CCF pair. Both halves share code, application and the PXY flag. */
export interface CommandDef {
  readonly code: number;
  readonly applicationId: number;
  /** Whether the header must carry the P bit (PXY in the CCF). */
  readonly proxiable: boolean;
  readonly request: CommandFormat;
  readonly answer: CommandFormat;
}

/** Source form of a command definition: CCF bodies as strings. */
export interface CommandSource {
  readonly code: number;
  readonly applicationId: number;
  readonly proxiable: boolean;
  readonly request: { readonly name: string; readonly abbrev: string; readonly ccf: string };
  readonly answer: { readonly name: string; readonly abbrev: string; readonly ccf: string };
}

/** Options of {@link defineAvp}. */
export interface AvpOptions {
  vendorId?: number;
  v?: FlagRule;
  m?: FlagRule;
  values?: Readonly<Record<string, number>>;
  group?: string;
  opaque?: boolean;
}

/**
 * Builds an AVP definition keeping its name and type as literal types, so builders can be typed by AVP name.
 * @param name the AVP name as the spec writes it.
 * @param code the AVP code.
 * @param type the data format.
 * @param options vendor (default 0 = IETF), V rule (default: must when vendor-specific, else mustNot), M rule
 *   (default must), enumerated values, Grouped content.
 */
export function defineAvp<const N extends string, const T extends AvpType>(
  name: N, code: number, type: T, options: AvpOptions = {},
): AvpDef & { readonly name: N; readonly type: T } {
  const vendorId = options.vendorId ?? 0;
  return {
    name, code, type, vendorId,
    vBit: options.v ?? (vendorId === 0 ? 'mustNot' : 'must'),
    mBit: options.m ?? 'must',
    ...(options.values ? { values: options.values } : {}),
    ...(options.group !== undefined ? { group: options.group } : {}),
    ...(options.opaque ? { opaque: true } : {}),
  };
}

const TOKEN = /(\d*)\s*(\*?)\s*(\d*)\s*([<{[])\s*([A-Za-z0-9-]+)\s*[>}\]]/g;

/**
 * Parses a CCF body (`< Session-Id > { Origin-Host } 1*{ Host-IP-Address } *[ AVP ]`) into occurrence rules per
 * RFC 6733 §3.2: fixed and required default to exactly one, optional to 0..1, a qualifier `min*max` overrides.
 * @throws Error on text that is not CCF (a dictionary bug, caught by the tests).
 */
export function parseCcf(ccf: string): Format {
  if (ccf.replace(TOKEN, '').trim() !== '') throw new Error(`not a CCF body: ${ccf}`);
  const rules: AvpRule[] = [];
  let allowsOther = false;
  for (const m of ccf.matchAll(TOKEN)) {
    const [, minText = '', star = '', maxText = '', bracket = '', name = ''] = m;
    if (name === 'AVP') {
      allowsOther = true;
      continue;
    }
    const optional = bracket === '[';
    let min = optional ? 0 : 1;
    let max = 1;
    if (star) {
      min = minText ? Number(minText) : min;
      max = maxText ? Number(maxText) : Infinity;
    }
    rules.push({ name, min, max });
  }
  return { rules, allowsOther };
}
