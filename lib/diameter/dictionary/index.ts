/**
 * Dictionary lookups: AVPs by (code, vendor) and by name, commands by (code, application) and by abbreviation, with
 * every CCF parsed and cross-checked at construction so a typo in a definition fails the first test, not a live peer.
 */
import { BASE_AVPS, BASE_COMMANDS, ERROR_ANSWER_CCF } from './base.ts';
import { CX_AVPS, CX_COMMANDS } from './cx.ts';
import { parseCcf } from './types.ts';
import type { AvpDef, CommandDef, CommandFormat, CommandSource, Format } from './types.ts';

export type { AvpDef, AvpRule, CommandDef, CommandFormat, FlagRule, Format } from './types.ts';
export { defineAvp, parseCcf } from './types.ts';
export { BASE_AVPS, BASE_COMMANDS, ERROR_ANSWER_CCF } from './base.ts';
export { CX_AVPS, CX_COMMANDS } from './cx.ts';

type KnownAvp = (typeof BASE_AVPS)[number] | (typeof CX_AVPS)[number];
/** Every AVP name of the default (base + Cx) dictionary. */
export type AvpName = KnownAvp['name'];
type AvpTypeMap = { [D in KnownAvp as D['name']]: D['type'] };
/** The data format of a known AVP name. */
export type AvpTypeOf<N extends AvpName> = AvpTypeMap[N];
/** Abbreviations of the default dictionary's commands (CER … RTA). */
export type CommandAbbrev = 'CER' | 'CEA' | 'DWR' | 'DWA' | 'DPR' | 'DPA' | 'UAR' | 'UAA' | 'SAR' | 'SAA' | 'LIR' | 'LIA'
  | 'MAR' | 'MAA' | 'RTR' | 'RTA';

/** A command half found by abbreviation. */
export interface CommandLookup {
  command: CommandDef;
  request: boolean;
  format: CommandFormat;
}

const key = (code: number, vendorId: number): string => `${vendorId}:${code}`;

/** An immutable set of AVP and command definitions. */
export class Dictionary {
  /** Vendor → code → definition: numeric keys, since every received AVP is looked up (no key string to build). */
  private readonly byCode = new Map<number, Map<number, AvpDef>>();
  private readonly byName = new Map<string, AvpDef>();
  private readonly groups = new Map<string, Format>();
  private readonly commands = new Map<string, CommandDef>();
  private readonly byAbbrev = new Map<string, CommandLookup>();
  private readonly applications = new Set<number>();
  /** The RFC 6733 §7.2 format every E-bit answer follows. */
  readonly errorAnswerFormat: Format;

  /**
   * @param avps AVP definitions; (code, vendor) and names must be unique.
   * @param commands command definitions with CCF strings naming only AVPs of `avps`.
   * @throws Error on duplicates, unknown names or malformed CCF (dictionary bugs).
   */
  constructor(avps: readonly AvpDef[], commands: readonly CommandSource[]) {
    for (const def of avps) {
      const codes = this.byCode.get(def.vendorId) ?? new Map<number, AvpDef>();
      if (codes.has(def.code) || this.byName.has(def.name)) throw new Error(`duplicate AVP ${def.name} (${key(def.code, def.vendorId)})`);
      codes.set(def.code, def);
      this.byCode.set(def.vendorId, codes);
      this.byName.set(def.name, def);
    }
    for (const def of avps) {
      if (def.type === 'Grouped') this.groups.set(def.name, this.checked(parseCcf(def.group ?? '* [ AVP ]'), def.name));
    }
    for (const src of commands) {
      const request = { name: src.request.name, abbrev: src.request.abbrev, ...this.checked(parseCcf(src.request.ccf), src.request.name) };
      const answer = { name: src.answer.name, abbrev: src.answer.abbrev, ...this.checked(parseCcf(src.answer.ccf), src.answer.name) };
      const def: CommandDef = { code: src.code, applicationId: src.applicationId, proxiable: src.proxiable, request, answer };
      this.commands.set(key(src.code, src.applicationId), def);
      this.byAbbrev.set(request.abbrev, { command: def, request: true, format: request });
      this.byAbbrev.set(answer.abbrev, { command: def, request: false, format: answer });
      this.applications.add(src.applicationId);
    }
    this.errorAnswerFormat = this.checked(parseCcf(ERROR_ANSWER_CCF), 'answer-message');
  }

  private checked(format: Format, where: string): Format {
    for (const rule of format.rules) {
      if (!this.byName.has(rule.name)) throw new Error(`${where} names unknown AVP ${rule.name}`);
    }
    return format;
  }

  /**
   * The definition of an AVP as received.
   * @param code AVP code.
   * @param vendorId the Vendor-ID field, absent/0 for IETF AVPs.
   */
  avp(code: number, vendorId = 0): AvpDef | undefined {
    return this.byCode.get(vendorId)?.get(code);
  }

  /** The definition of an AVP by name, or undefined. */
  avpByName(name: string): AvpDef | undefined {
    return this.byName.get(name);
  }

  /** The content format of a Grouped AVP (undefined for other types). */
  groupFormat(name: string): Format | undefined {
    return this.groups.get(name);
  }

  /**
   * The command with this code in this application.
   * @param code command code.
   * @param applicationId the header's Application-ID.
   */
  command(code: number, applicationId: number): CommandDef | undefined {
    return this.commands.get(key(code, applicationId));
  }

  /** A command half by abbreviation (`'MAR'`, `'MAA'`, …). */
  commandByAbbrev(abbrev: string): CommandLookup | undefined {
    return this.byAbbrev.get(abbrev);
  }

  /** Whether any command of this dictionary uses the application. */
  hasApplication(applicationId: number): boolean {
    return this.applications.has(applicationId);
  }

  /** All AVP definitions, in definition order. */
  allAvps(): AvpDef[] {
    return [...this.byName.values()];
  }

  /** All command definitions. */
  allCommands(): CommandDef[] {
    return [...this.commands.values()];
  }
}

/** Base protocol only (CER/DWR/DPR). */
export const baseDictionary = new Dictionary(BASE_AVPS, BASE_COMMANDS);
/** Base protocol plus Cx: what every role of this project speaks. */
export const defaultDictionary = new Dictionary([...BASE_AVPS, ...CX_AVPS], [...BASE_COMMANDS, ...CX_COMMANDS]);
