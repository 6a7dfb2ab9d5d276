/**
 * The Diameter options of the agents (`mcx mms`, `mcx relay`): where to listen and where each realm's requests go,
 * and which of those links are TLS.
 *
 * `--listen [tcp://|tls://]HOST:PORT` and `--route REALM=[tcp://|tls://]HOST:PORT[,…]` (repeatable; peers in order
 * of preference). A link is TLS when its address says `tls://`, or when the TLS files are given and it does not say
 * `tcp://` — so with certificates everything is mutual TLS unless a link inside one system is marked plain on purpose
 * (the relay → HSS leg in tests, where tshark must read it).
 */
import { z } from 'zod';
import type { RefinementCtx } from 'zod';
import { parseHostPort, realmSchema } from '../lib/config/address.ts';

/** An address as written: the scheme, when given, forces TCP or TLS. */
export interface EndpointSpec {
  host: string;
  port: number;
  transport?: 'tcp' | 'tls';
}

/** A realm and its peers as written on the command line. */
export interface RouteSpec {
  realm: string;
  peers: EndpointSpec[];
}

function parseEndpoint(text: string): EndpointSpec | string {
  const m = /^(tcp|tls):\/\/(.*)$/i.exec(text.trim());
  const r = parseHostPort(m ? (m[2] as string) : text.trim());
  if (typeof r === 'string') return `${r} (optionally prefixed tcp:// or tls://)`;
  return m ? { ...r, transport: (m[1] as string).toLowerCase() as 'tcp' | 'tls' } : r;
}

/** `[tcp://|tls://]HOST:PORT`. */
export const endpointSchema = z.string({ error: 'required' }).transform((text, ctx): EndpointSpec => {
  const r = parseEndpoint(text);
  if (typeof r === 'string') {
    ctx.addIssue({ code: 'custom', message: r });
    return z.NEVER;
  }
  return r;
});

/**
 * One `--route REALM=ADDR[,ADDR…]`.
 * @returns the route, or the problems found (each naming the realm or the text).
 */
export function parseRoute(text: string): RouteSpec | string[] {
  const eq = text.indexOf('=');
  const realm = text.slice(0, Math.max(eq, 0)).trim();
  if (eq < 0 || !realmSchema.safeParse(realm).success) return [`expected REALM=HOST:PORT[,HOST:PORT] with REALM a DNS name, got ${JSON.stringify(text)}`];
  const peers: EndpointSpec[] = [];
  const problems: string[] = [];
  for (const part of text.slice(eq + 1).split(',').map((s) => s.trim()).filter(Boolean)) {
    const r = parseEndpoint(part);
    if (typeof r === 'string') problems.push(`${realm}: ${r}`);
    else peers.push(r);
  }
  if (peers.length === 0 && problems.length === 0) problems.push(`${realm}: at least one HOST:PORT`);
  return problems.length ? problems : { realm, peers };
}

/** Every `--route` (repeatable): at least one, each realm once; problems are reported on `--route` itself. */
export const routesSchema = z.array(z.string(), { error: 'required (REALM=HOST:PORT[,HOST:PORT])' })
  .min(1, 'required (REALM=HOST:PORT[,HOST:PORT])')
  .transform((texts, ctx): RouteSpec[] => {
    const routes: RouteSpec[] = [];
    for (const text of texts) {
      const r = parseRoute(text);
      if (Array.isArray(r)) for (const message of r) ctx.addIssue({ code: 'custom', message });
      else if (routes.some((x) => x.realm.toLowerCase() === r.realm.toLowerCase())) ctx.addIssue({ code: 'custom', message: `realm ${r.realm} is routed twice` });
      else routes.push(r);
    }
    return routes;
  });

/** Whether a link is TLS under the rule of this module. */
export function isTlsLink(e: EndpointSpec, haveTlsFiles: boolean): boolean {
  return e.transport === 'tls' || (e.transport === undefined && haveTlsFiles);
}

/**
 * Refinement: `tls://` needs the TLS files; and, when `mustBeTls` names it, the inter-system side has to be TLS
 * (TS 33.180 / DESIGN §1: every Diameter connection between the two systems is mutual TLS).
 * @param field the option checked (`listen` or `route`).
 */
export function checkLinkSecurity(endpoints: readonly EndpointSpec[], haveTlsFiles: boolean, field: 'listen' | 'route' | 'primary-system', mustBeTls: string | undefined, ctx: RefinementCtx): void {
  for (const e of endpoints) {
    if (e.transport === 'tls' && !haveTlsFiles) ctx.addIssue({ code: 'custom', path: [field], message: 'tls:// needs --tls-cert, --tls-key and --tls-ca' });
    else if (mustBeTls !== undefined && !isTlsLink(e, haveTlsFiles)) ctx.addIssue({ code: 'custom', path: [field], message: mustBeTls });
  }
}

/** A primary MC system the partner MMS works with for dynamic migrations (`--primary-system`). */
export interface PrimarySystem {
  /** Its Diameter realm (Destination-Realm of the primary leg). */
  realm: string;
  /** Its IdMS issuer URL: the `primary_iss` of partner access tokens of its users. */
  idmsIssuer: string;
  /** `https://host:port` of its primary MMS's binding API. */
  bindingApi: string;
  /** Its primary MMS's Diameter peers, in order of preference. */
  cx: EndpointSpec[];
  /**
   * PEM files of the CA(s) that may certify its binding API (`ca=`, repeatable); absent: every `--tls-ca` but the
   * first (the other systems' CAs), so one primary system's CA cannot stand in for another's where they are given.
   */
  caFiles?: string[];
}

const PRIMARY_SYSTEM_FORM = 'realm=REALM,idms=https://…,api=https://HOST:PORT,cx=[tls://]HOST:PORT[,cx=…][,ca=FILE]';

/**
 * One `--primary-system realm=R,idms=URL,api=URL,cx=HOST:PORT[,cx=…]`.
 * @returns the system, or the problems found.
 */
export function parsePrimarySystem(text: string): PrimarySystem | string[] {
  const problems: string[] = [];
  const fields = new Map<string, string[]>();
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const k = eq > 0 ? part.slice(0, eq).trim().toLowerCase() : '';
    if (!['realm', 'idms', 'api', 'cx', 'ca'].includes(k)) {
      problems.push(`unknown part ${JSON.stringify(part)}: expected ${PRIMARY_SYSTEM_FORM}`);
      continue;
    }
    fields.set(k, [...(fields.get(k) ?? []), part.slice(eq + 1).trim()]);
  }
  const one = (k: string): string | undefined => {
    const v = fields.get(k);
    if (!v || v.length !== 1) problems.push(`${k}= must be given once (${PRIMARY_SYSTEM_FORM})`);
    return v?.[0];
  };
  const realm = one('realm');
  if (realm !== undefined && !realmSchema.safeParse(realm).success) problems.push(`realm=${realm}: must be a DNS name`);
  // The IdMS issuer is compared with `primary_iss` exactly (OIDC issuer identifiers are), so it is kept as written.
  const https = (k: string): string | undefined => {
    const v = one(k);
    if (v === undefined) return undefined;
    try {
      if (new URL(v).protocol === 'https:') return v;
    } catch { /* reported below */ }
    problems.push(`${k}=${v}: must be an https:// URL`);
    return undefined;
  };
  const idms = https('idms');
  const api = https('api');
  const cx: EndpointSpec[] = [];
  for (const c of fields.get('cx') ?? []) {
    const r = parseEndpoint(c);
    if (typeof r === 'string') problems.push(`cx=${c}: ${r}`);
    else cx.push(r);
  }
  if (!fields.has('cx')) problems.push(`at least one cx=HOST:PORT (${PRIMARY_SYSTEM_FORM})`);
  const ca = (fields.get('ca') ?? []).filter((f) => f !== '');
  if (problems.length || realm === undefined || idms === undefined || api === undefined) return problems;
  return { realm, idmsIssuer: idms, bindingApi: api, cx, ...(ca.length ? { caFiles: ca } : {}) };
}

/** Every `--primary-system` (repeatable, optional): each realm and each IdMS issuer once. */
export const primarySystemsSchema = z.array(z.string()).default([]).transform((texts, ctx): PrimarySystem[] => {
  const out: PrimarySystem[] = [];
  for (const text of texts) {
    const r = parsePrimarySystem(text);
    if (Array.isArray(r)) for (const message of r) ctx.addIssue({ code: 'custom', message });
    else if (out.some((s) => s.realm.toLowerCase() === r.realm.toLowerCase() || s.idmsIssuer === r.idmsIssuer)) {
      ctx.addIssue({ code: 'custom', message: `primary system ${r.realm} (${r.idmsIssuer}) is given twice` });
    } else out.push(r);
  }
  return out;
});
