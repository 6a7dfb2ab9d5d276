/**
 * The HSS subscriber (DESIGN §2.3): what an operator provisions, how it is validated (zod, every bad field named),
 * and what is stored. Provisioning turns OP into OPc and a password into HA1-MD5 and HA1-SHA-256 for the HSS realm,
 * so neither OP nor the password is ever stored (TS 35.206 §4.1 recommends storing OPc; RFC 7616 §3.4.2 HA1).
 *
 * Secret-bearing fields keep the names `k`, `op`, `opc`, `password`, `ha1`, which lib/log.ts redacts.
 */
import { z } from 'zod';
import { computeOpc, digestHa1 } from '../lib/aka/index.ts';
import type { SubscriberView } from '../lib/admin/hss-api.ts';
import { allowedPartnersSchema } from '../lib/allowed-partners.ts';

/**
 * AMF when none is given: 0000. TS 33.401 §6.1.1 (Annex H of 33.102) reserves AMF bit 0, the "separation bit", for
 * E-UTRAN vectors; IMS-AKA vectors over Cx are not E-UTRAN vectors, so the bit is 0, and no operator-specific bits are
 * used here. `8000` would only be right for a USIM that insists on the separation bit; such a subscriber sets it.
 * SIPp checks MAC-A with its own configured AMF, so its `aka_AMF` must equal the subscriber's.
 */
export const DEFAULT_AMF = '0000';
/** Last issued SQN when none is given: 0, so the first vector has SEQ 1 (SEQ 0 is never fresh, 33.102 C.2.2). */
export const DEFAULT_SQN = '000000000000';

/** Digest-Algorithm values the HSS can answer with (RFC 8760 names), each backed by one stored HA1. */
export const DIGEST_ALGORITHMS = { MD5: 'md5', 'SHA-256': 'sha-256' } as const;
/** A Digest-Algorithm name. */
export type DigestAlgorithm = keyof typeof DIGEST_ALGORITHMS;

const hex = (octets: number) => z.string().trim().regex(new RegExp(`^[0-9a-fA-F]{${octets * 2}}$`), `must be ${octets * 2} hex digits`)
  .transform((s) => s.toLowerCase());

const IMPI = /^[^\s@,;:<>"\\/]+@[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const IMPU = /^(sips?:[^\s<>",]+|tel:\+?[0-9A-Za-z\-.()*#;=%]+)$/i;

/** IMPI, an NAI `user@realm` (TS 23.003 §13.3). */
export const impiSchema = z.string().trim().max(255, 'at most 255 characters').regex(IMPI, 'must be an NAI such as alice@ims.example.net');
/** IMPU, a SIP or tel URI (TS 23.003 §13.4). */
export const impuSchema = z.string().trim().max(255, 'at most 255 characters').regex(IMPU, 'must be a sip:, sips: or tel: URI');

/** What an operator provisions (JSON of the admin API, one CSV row, the CLI options). */
export const subscriberInputSchema = z.object({
  impi: impiSchema,
  impus: z.array(impuSchema).min(1, 'at least one IMPU').max(32, 'at most 32 IMPUs'),
  k: hex(16).optional(),
  op: hex(16).optional(),
  opc: hex(16).optional(),
  amf: hex(2).default(DEFAULT_AMF),
  sqn: hex(6).default(DEFAULT_SQN),
  password: z.string().min(1, 'must not be empty').max(256, 'at most 256 characters').optional(),
  // eslint-disable-next-line no-control-regex
  mcptt_id: z.string().trim().min(1).max(255).regex(/^[^\x00-\x1f\x7f]+$/, 'must not contain control characters').optional(),
  // REALM, static:REALM or dynamic:REALM (lib/allowed-partners.ts): by which configuration the user may migrate there.
  allowed_partners: allowedPartnersSchema.default([]),
}).strict().superRefine((s, ctx) => {
  if (s.k !== undefined) {
    if ((s.op === undefined) === (s.opc === undefined)) {
      ctx.addIssue({ code: 'custom', path: [s.op === undefined ? 'opc' : 'op'], message: 'exactly one of op and opc goes with k' });
    }
  } else {
    for (const f of ['op', 'opc'] as const) {
      if (s[f] !== undefined) ctx.addIssue({ code: 'custom', path: ['k'], message: `k is required when ${f} is given` });
    }
    if (s.password === undefined) {
      ctx.addIssue({ code: 'custom', path: ['k'], message: 'a subscriber needs AKA credentials (k with op or opc) or a password' });
    }
  }
  const dup = s.impus.find((u, i) => s.impus.indexOf(u) !== i);
  if (dup !== undefined) ctx.addIssue({ code: 'custom', path: ['impus'], message: `${dup} is listed twice` });
});

/** A validated input (OP or OPc, password still in clear: it only lives until {@link provision}). */
export type SubscriberInput = z.output<typeof subscriberInputSchema>;

/** HA1 values for one realm (RFC 7616 §3.4.2: H(username:realm:password)), lowercase hex. */
export interface StoredHa1 {
  realm: string;
  md5: string;
  sha256: string;
}

/** What the store holds under `hss:sub:<impi>` (its SQN counter lives beside it, under `hss:sqn:<impi>`). */
export interface SubscriberRecord {
  v: 1;
  impi: string;
  impus: string[];
  /** K, hex; absent for a SIP Digest-only subscriber. */
  k?: string;
  /** OPc, hex (OP is converted at provisioning and dropped). */
  opc?: string;
  amf: string;
  ha1?: StoredHa1;
  mcptt_id?: string;
  allowed_partners: string[];
  updated_at: string;
}

/** What the admin API and the CLI show (its wire type, lib/admin/hss-api.ts): every field but the secrets, reduced to "is it set". */
export type { SubscriberView } from '../lib/admin/hss-api.ts';

/** AKA credentials as Buffers, for Milenage. */
export interface AkaCredentials {
  impi: string;
  k: Buffer;
  opc: Buffer;
  amf: Buffer;
}

/**
 * Turns a validated input into the stored record and the SQN counter value: OP → OPc, password → HA1s for `realm`.
 * @param realm the HSS realm (`--realm`), the Digest realm the HA1s are bound to.
 */
export function provision(input: SubscriberInput, realm: string, now: Date = new Date()): { record: SubscriberRecord; sqn: bigint } {
  const record: SubscriberRecord = {
    v: 1, impi: input.impi, impus: [...input.impus], amf: input.amf, allowed_partners: [...input.allowed_partners],
    updated_at: now.toISOString(),
  };
  if (input.k !== undefined) {
    record.k = input.k;
    record.opc = input.opc ?? computeOpc(Buffer.from(input.k, 'hex'), Buffer.from(input.op as string, 'hex')).toString('hex');
  }
  if (input.password !== undefined) {
    const pw = Buffer.from(input.password, 'utf8');
    record.ha1 = { realm, md5: digestHa1('md5', input.impi, realm, pw), sha256: digestHa1('sha-256', input.impi, realm, pw) };
  }
  if (input.mcptt_id !== undefined) record.mcptt_id = input.mcptt_id;
  return { record, sqn: BigInt(`0x${input.sqn}`) };
}

/** The record without its secrets. @param sqn the last issued SQN, when known. */
export function viewOf(record: SubscriberRecord, sqn?: bigint): SubscriberView {
  const view: SubscriberView = {
    impi: record.impi, impus: [...record.impus], amf: record.amf, k_set: record.k !== undefined,
    opc_set: record.opc !== undefined, ha1_set: record.ha1 !== undefined, allowed_partners: [...record.allowed_partners],
    updated_at: record.updated_at,
  };
  if (record.ha1) view.ha1_realm = record.ha1.realm;
  if (sqn !== undefined) view.sqn = sqn.toString(16).padStart(12, '0');
  if (record.mcptt_id !== undefined) view.mcptt_id = record.mcptt_id;
  return view;
}

/** The AKA credentials of a record, or undefined for a SIP Digest-only subscriber. */
export function akaCredentials(record: SubscriberRecord): AkaCredentials | undefined {
  if (record.k === undefined || record.opc === undefined) return undefined;
  return { impi: record.impi, k: Buffer.from(record.k, 'hex'), opc: Buffer.from(record.opc, 'hex'), amf: Buffer.from(record.amf, 'hex') };
}

/** One problem with an input, located by CSV line (when imported) and field. */
export interface SubscriberProblem {
  line?: number;
  field?: string;
  message: string;
}

/** Codes of {@link SubscriberError}: bad input, an IMPI already provisioned, an identity owned by someone else, absent. */
export type SubscriberErrorCode = 'ERR_HSS_INPUT' | 'ERR_HSS_EXISTS' | 'ERR_HSS_CONFLICT' | 'ERR_HSS_NOT_FOUND';

/** A provisioning failure; `problems` lists every issue found (all rows of an import, not just the first). */
export class SubscriberError extends Error {
  readonly code: SubscriberErrorCode;
  readonly problems: SubscriberProblem[];

  /**
   * @param code what kind of failure.
   * @param problems each issue; the message is built from them (never from secret values).
   */
  constructor(code: SubscriberErrorCode, problems: SubscriberProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'SubscriberError';
    this.code = code;
    this.problems = problems;
  }
}

/** `line 3: k: must be 32 hex digits`. */
export function formatProblem(p: SubscriberProblem): string {
  return `${p.line === undefined ? '' : `line ${p.line}: `}${p.field === undefined ? '' : `${p.field}: `}${p.message}`;
}

/**
 * Validates one input.
 * @param line the CSV line, carried into each problem.
 * @returns the input, or the problems (one per bad field; zod messages never echo the value).
 */
export function validateSubscriber(raw: unknown, line?: number): { input: SubscriberInput } | { problems: SubscriberProblem[] } {
  const r = subscriberInputSchema.safeParse(raw);
  if (r.success) return { input: r.data };
  return {
    problems: r.error.issues.map((i) => ({
      ...(line === undefined ? {} : { line }),
      ...(i.path.length ? { field: String(i.path[0]) } : {}),
      message: i.message,
    })),
  };
}
