/**
 * `mcx ue migrate --partner name=NAME,idms=URL,mms=URL[,ca=FILE]` (repeatable): one partner MC system to migrate to
 * (TS 23.280 §10.6.2.1: the procedures run "for each partner MC system to which the MC service UE wishes to
 * migrate") — its IdMS issuer (the audience of the security token made for it, TS 33.180 §5.1.4.2), its MMS
 * migration API, and the CA(s) its servers (IdMS, MMS, registrar) must chain to (default `--partner-ca`). The form
 * follows `mcx mms --primary-system realm=…,idms=…`.
 */
import { z } from 'zod';

/** One partner system as `--partner` names it. */
export interface PartnerOption {
  /** A label for the ladder and the report (`partner-a`, `eu-west`, …). */
  name: string;
  /** Its IdMS issuer URL. */
  issuer: string;
  /** Its MMS migration API. */
  mms: string;
  /** CA files of its servers (`ca=`, repeatable); absent: `--partner-ca`. */
  ca?: string[];
}

/** How `--partner` is written. */
export const PARTNER_OPTION_FORM = 'name=NAME,idms=https://…,mms=https://…[,ca=FILE]';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

/**
 * One `--partner` value.
 * @returns the partner, or the problems found.
 */
export function parsePartnerOption(text: string): PartnerOption | string[] {
  const problems: string[] = [];
  const fields = new Map<string, string[]>();
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const k = eq > 0 ? part.slice(0, eq).trim().toLowerCase() : '';
    if (!['name', 'idms', 'mms', 'ca'].includes(k)) {
      problems.push(`unknown part ${JSON.stringify(part)}: expected ${PARTNER_OPTION_FORM}`);
      continue;
    }
    fields.set(k, [...(fields.get(k) ?? []), part.slice(eq + 1).trim()]);
  }
  const one = (k: string): string | undefined => {
    const v = fields.get(k);
    if (!v || v.length !== 1) problems.push(`${k}= must be given once (${PARTNER_OPTION_FORM})`);
    return v?.[0];
  };
  const name = one('name');
  if (name !== undefined && !NAME.test(name)) problems.push(`name=${name}: letters, digits, '.', '_' and '-', at most 32`);
  // Issuers are compared exactly (OIDC issuer identifiers are), so they are kept as written.
  const https = (k: string): string | undefined => {
    const v = one(k);
    if (v === undefined) return undefined;
    if (URL.canParse(v) && new URL(v).protocol === 'https:') return v;
    problems.push(`${k}=${v}: must be an https:// URL`);
    return undefined;
  };
  const issuer = https('idms');
  const mms = https('mms');
  const ca = (fields.get('ca') ?? []).filter((f) => f !== '');
  if (problems.length || name === undefined || issuer === undefined || mms === undefined) return problems;
  return { name, issuer, mms, ...(ca.length ? { ca } : {}) };
}

/** Every `--partner` (repeatable): each name, IdMS and MMS once. */
export const partnerOptionsSchema = z.array(z.string()).transform((texts, ctx): PartnerOption[] => {
  const out: PartnerOption[] = [];
  for (const text of texts) {
    const r = parsePartnerOption(text);
    if (Array.isArray(r)) for (const message of r) ctx.addIssue({ code: 'custom', message });
    else out.push(r);
  }
  for (const k of ['name', 'issuer', 'mms'] as const) {
    const seen = new Set<string>();
    for (const p of out) {
      if (seen.has(p[k])) ctx.addIssue({ code: 'custom', message: `${k === 'issuer' ? 'idms' : k}=${p[k]} is given for two partners` });
      seen.add(p[k]);
    }
  }
  return out;
});
