/**
 * The REGISTER state machine (DESIGN §2.1; TS 24.229 §5.4.1.2; RFC 3261 §10.3; RFC 3310; seed steps 2, 12, 13).
 * Every REGISTER without valid credentials of a fresh nonce is challenged — re-registrations and de-registrations
 * too — so the state lives in the store and not in the UE's history:
 *
 * 1. extensions (420), Request-URI (416), To (400 unless SIP/SIPS), Contact/Expires (400, 423) — before any vector
 *    is spent;
 * 2. no credentials, or the 24.229 initial form with an empty nonce → challenge (at most `maxPendingChallenges`
 *    per IMPI, then the newest again; an identity the HSS refuses gets a decoy: challenge-flow.ts, decoy.ts);
 * 3. `auts` → resync MAR with RAND (from the stored challenge of that nonce) ‖ AUTS → fresh 401;
 * 4. the nonce is taken from the store (single use); unknown, used or expired → fresh 401 with `stale=TRUE`;
 * 5. empty `response` (the UE's MAC-failure report, 24.229 §5.1.1.5.3) → 403, the vector already gone;
 * 6. wrong response, identity, Digest `uri` (not the Request-URI) or algorithm, or any answer to a decoy → 403, and a
 *    failed authentication of the source address (source-guard.ts: enough of them ban it); `nc` other than
 *    00000001 → fresh 401 `stale=TRUE`. Steps 3–5 and malformed requests never count as failures;
 * 7. sec-agree: Security-Verify must repeat Security-Server (494 otherwise);
 * 8. bindings merged, SAR (REGISTRATION / RE_REGISTRATION, or USER_DEREGISTRATION when the last binding goes),
 *    bindings stored, `200 OK`.
 */
import { ServerAssignmentType as SAT } from '../lib/diameter/cx/index.ts';
import type { Logger } from '../lib/log.ts';
import { seedStep } from '../lib/seed-steps.ts';
import type { DigestCredentials } from '../lib/sip/headers/auth.ts';
import { addressOfRecord } from '../lib/sip/headers/uri.ts';
import type { SipRequest } from '../lib/sip/message.ts';
import type { ServerTransaction } from '../lib/sip/transaction/server.ts';
import { verifyCredentials } from './auth.ts';
import { applyPlan, contactValue, planContacts, type BindingStore, type ContactPlan, type ExpiryLimits } from './bindings.ts';
import { issueChallenge, type ChallengeContext } from './challenge-flow.ts';
import type { ChallengeRecord } from './challenges.ts';
import { isRegistrarError, sipStatusOf } from './errors.ts';
import { asksForAka } from './decoy.ts';
import { SECURITY_SERVER, checkExtensions, securityVerifyMatches } from './extensions.ts';
import type { SourceGuard } from './source-guard.ts';
import { escapeForHeader, publicIdentities } from './user-data.ts';

/** What the state machine works with. */
export interface RegisterContext extends ChallengeContext {
  bindings: BindingStore;
  limits: ExpiryLimits;
  /** `<sip:orig@host:port;lr>` (24.229 §5.4.1.2.2: the UE's pre-loaded Route for originating requests). */
  serviceRoute: string;
  /** Where failed authentications are counted per source address. */
  guard: SourceGuard;
}

/** Each request's view: its log line fields. */
interface Turn {
  ctx: RegisterContext;
  req: SipRequest;
  tx: ServerTransaction;
  log: Logger;
  impu: string;
  secAgree: boolean;
  /** The REGISTER's Authorization asked for AKA (shape of a decoy). */
  akaAsked: boolean;
}

/**
 * The Authorization to act on: the first Digest credentials with a nonce, else the first Digest credentials
 * (the 24.229 initial REGISTER carries them with `nonce=""`).
 */
function pickCredentials(req: SipRequest): DigestCredentials | undefined {
  const digest = req.authorization().filter((c) => c.scheme.toLowerCase() === 'digest');
  return digest.find((c) => (c.nonce ?? '') !== '') ?? digest[0];
}

/** The IMPI a REGISTER names: Authorization `username`, else the To URI without its scheme (24.229 §5.1.1.2.1). */
function impiOf(cred: DigestCredentials | undefined, impu: string): string {
  return cred?.username ? cred.username : impu.replace(/^sips?:/i, '');
}

/**
 * Handles one REGISTER. Registrar failures (HSS unavailable, user unknown, …) are answered with their status here;
 * a malformed header escapes as SipParseError, which the stack answers 400.
 */
export async function handleRegister(ctx: RegisterContext, req: SipRequest, tx: ServerTransaction): Promise<void> {
  const to = req.to();
  const impu = to.uri.kind === 'sip' ? addressOfRecord(to.uri) : to.uri.raw;
  const log = ctx.log.child({ impu, call_id: req.callId(), transport: tx.flow.transport });
  try {
    await register({ ctx, req, tx, log, impu, secAgree: false, akaAsked: false }, to.uri.kind === 'sip');
  } catch (err) {
    if (!isRegistrarError(err)) throw err;
    const status = sipStatusOf(err.code);
    log.info({ code: err.code, status, reason: err.message }, `REGISTER → ${status}`);
    tx.reply(status);
  }
}

async function register(t: Turn, sipTo: boolean): Promise<void> {
  const { ctx, req, tx } = t;
  const ext = checkExtensions(req, tx.flow);
  if (!ext.ok) {
    t.log.info({ unsupported: ext.unsupported }, 'REGISTER requires unsupported extensions → 420');
    tx.reply(420, { headers: [['Unsupported', ext.unsupported.join(', ')]] });
    return;
  }
  t.secAgree = ext.secAgree;
  if (req.requestUri().kind !== 'sip') {
    tx.reply(416, { reason: 'Unsupported URI Scheme' });
    return;
  }
  // RFC 3261 §10.2: the address-of-record in To MUST be a SIP or SIPS URI, so anything else is a bad request (RFC 4475
  // §3.3.4: "a registrar would reject this request with a 400"); 24.229 §5.1.1.2.1: tel URIs are registered implicitly.
  if (!sipTo) {
    tx.reply(400, { reason: 'Bad Request (To is not a SIP or SIPS URI)' });
    return;
  }
  const plan = planContacts(req, ctx.limits);
  if ('status' in plan) {
    t.log.info({ status: plan.status }, `REGISTER refused before authentication → ${plan.status}`);
    tx.reply(plan.status, { ...(plan.reason ? { reason: plan.reason } : {}), ...(plan.headers ? { headers: plan.headers } : {}) });
    return;
  }
  const cred = pickCredentials(req);
  const id = { impi: impiOf(cred, t.impu), impu: t.impu };
  t.akaAsked = asksForAka(cred);
  if (!cred || !cred.nonce) {
    seedStep(t.log, ctx.seedFlow, 2, 'ue', undefined, { impi: id.impi, impu: id.impu });
    await issueChallenge(ctx, req, tx, id, { stale: false, secAgree: t.secAgree, akaAsked: t.akaAsked });
    return;
  }
  const record = await ctx.challenges.take(cred.nonce);
  ctx.pending.release(record?.impi ?? id.impi, cred.nonce);
  if (cred.auts !== undefined) {
    await resync(t, cred.auts, record, id);
    return;
  }
  if (!record) {
    t.log.info('nonce unknown, used or expired → fresh 401 stale=TRUE');
    seedStep(t.log, ctx.seedFlow, 2, 'ue', undefined, { impi: id.impi, impu: id.impu, stale_nonce: true });
    await issueChallenge(ctx, req, tx, id, { stale: true, secAgree: t.secAgree, akaAsked: t.akaAsked });
    return;
  }
  seedStep(t.log, ctx.seedFlow, 12, 'ue', undefined, { impi: record.impi, impu: record.impu, qop: cred.qop });
  await answer(t, cred, record, plan);
}

/** Steps 5–8 of the module comment, for credentials whose nonce was found. */
async function answer(t: Turn, cred: DigestCredentials, record: ChallengeRecord, plan: ContactPlan): Promise<void> {
  const { ctx, req, tx } = t;
  if (!cred.response) {
    t.log.info({ kind: record.kind }, 'empty response without auts (MAC failure at the UE, 24.229 §5.1.1.5.3) → 403, vector discarded');
    tx.reply(403, { reason: 'Forbidden (Network Authentication Failed)' });
    return;
  }
  const v = verifyCredentials(record, cred, {
    method: req.method, body: req.body, requestUri: req.requestUri(),
    receivedOn: { address: tx.flow.localAddress, port: tx.flow.localPort },
  });
  if (!v.ok || record.impu !== t.impu) {
    const failure = v.ok ? 'identity' : v.failure;
    const source = tx.flow.remoteAddress;
    t.log.info({ failure, kind: record.kind, source }, 'credentials do not verify → 403 (a failed authentication of the source)');
    if (failure === 'uri') ctx.stats.inc('digest_uri_mismatches');
    ctx.guard.authFailed(source, record.impi);
    tx.reply(403, { reason: 'Forbidden (Authentication Failed)' });
    return;
  }
  if (cred.qop !== undefined && cred.nc !== '00000001') {
    t.log.info({ nc: cred.nc }, 'nonce reused (nc above 00000001): nonces are single-use → fresh 401 stale=TRUE');
    await issueChallenge(ctx, req, tx, { impi: record.impi, impu: record.impu }, { stale: true, secAgree: t.secAgree, akaAsked: t.akaAsked });
    return;
  }
  if ((record.secAgree || req.headers.has('security-verify')) && !securityVerifyMatches(req)) {
    t.log.info('Security-Verify does not repeat Security-Server (RFC 3329 §2.3.1) → 494');
    tx.reply(494, { headers: [['Security-Server', SECURITY_SERVER]] });
    return;
  }
  await complete(t, record, plan, v.authenticationInfo);
}

/**
 * `auts`: resync MAR with the RAND of the challenge the UE rejected, then a fresh 401 (RFC 3310 §3.4). Without that
 * challenge (unknown or expired nonce) there is no RAND to pair AUTS with: a fresh 401 stale=TRUE instead.
 */
async function resync(t: Turn, autsB64: string, record: ChallengeRecord | undefined, id: { impi: string; impu: string }): Promise<void> {
  const auts = /^[A-Za-z0-9+/]+={0,2}$/.test(autsB64) ? Buffer.from(autsB64, 'base64') : Buffer.alloc(0);
  if (auts.length !== 14) {
    t.tx.reply(400, { reason: 'Malformed auts (RFC 3310 §3.4: base64 of 14 octets)' });
    return;
  }
  if (record?.kind === 'decoy') {
    // As for a real resynchronisation: a fresh challenge, not stale (which would tell the decoy apart).
    t.log.info('auts answering a decoy → a fresh decoy challenge');
    await issueChallenge(t.ctx, t.req, t.tx, id, { stale: false, secAgree: t.secAgree, akaAsked: true });
    return;
  }
  if (record?.kind !== 'aka') {
    t.log.info('auts for an unknown nonce → fresh 401 stale=TRUE');
    await issueChallenge(t.ctx, t.req, t.tx, id, { stale: true, secAgree: t.secAgree, akaAsked: t.akaAsked });
    return;
  }
  seedStep(t.log, t.ctx.seedFlow, 12, 'ue', 'UE → partner SIP core: SIP authentication challenge response with auts (synchronisation failure)',
    { impi: record.impi, impu: record.impu });
  t.log.info('auts (synchronisation failure at the UE) → resync MAR, fresh 401');
  await issueChallenge(t.ctx, t.req, t.tx, { impi: record.impi, impu: record.impu },
    { stale: false, secAgree: t.secAgree, akaAsked: true, resync: Buffer.concat([Buffer.from(record.rand, 'hex'), auts]) });
}

/** The Server-Assignment-Type for a change from `before` to `after` live bindings, or undefined for none. */
function assignmentFor(before: number, after: number): number | undefined {
  if (after > 0) return before > 0 ? SAT.RE_REGISTRATION : SAT.REGISTRATION;
  return before > 0 ? SAT.USER_DEREGISTRATION : undefined;
}

/** Step 8: bindings, SAR, 200 (seed step 13). */
async function complete(t: Turn, r: ChallengeRecord, plan: ContactPlan, authenticationInfo: string): Promise<void> {
  const { ctx, req, tx } = t;
  const now = Date.now();
  const before = await ctx.bindings.get(r.impu, now);
  const path = req.headers.getAll('path');
  const flow = tx.flow;
  const next = applyPlan(before, plan, {
    callId: req.callId(), cseq: req.cseq().seq, path, now, source: `${flow.transport} ${flow.remoteAddress}:${flow.remotePort}`,
  });
  if (!next) {
    t.log.info('CSeq not above the binding of the same Call-ID (RFC 3261 §10.3 step 7) → 500');
    tx.reply(500, { reason: 'Out Of Order REGISTER' });
    return;
  }
  const type = assignmentFor(before.length, next.length);
  const saa = type === undefined ? undefined : await ctx.cx.sar(r.impi, r.impu, type);
  await ctx.bindings.put(r.impu, r.impi, next, now);
  const associated = publicIdentities(saa?.userData);
  const headers: Array<[string, string]> = [
    ...next.map((b): [string, string] => ['Contact', contactValue(b, now)]),
    ...path.map((p): [string, string] => ['Path', p]),
    ['Service-Route', ctx.serviceRoute],
    ['P-Associated-URI', (associated.length > 0 ? associated.map(escapeForHeader) : [req.to().uri.raw]).map((u) => `<${u}>`).join(', ')],
    ['Authentication-Info', authenticationInfo],
  ];
  tx.reply(200, { headers });
  seedStep(t.log, ctx.seedFlow, 13, 'registrar', undefined, {
    impi: r.impi, impu: r.impu, bindings: next.length, server_assignment_type: type, kind: r.kind,
  });
}
