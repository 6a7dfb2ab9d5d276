/**
 * The REGISTER state machine (DESIGN §2.1; TS 24.229 §5.4.1.2; RFC 3261 §10.3; RFC 3310), read top-down in
 * {@link handleRegister}: receive → identify → challenge, or verify → SAR → bind → answer. Every REGISTER without
 * valid credentials of a fresh nonce is challenged — re-registrations and de-registrations too — so the state lives in
 * the store and not in the UE's history. The source checks (ban → 403 or nothing, rate → 503) ran before, in
 * server.ts.
 *
 * 1. receive: extensions (420), Request-URI (416), To (400 unless SIP/SIPS), Contact/Expires (400, 423) — before any
 *    vector is spent;
 * 2. identify: the credentials to act on, the IMPI and IMPU, and the seed flow of the identity (a dynamic binding's
 *    namespace or not: lib/seed-steps.ts). No credentials, or the 24.229 initial form with an empty nonce → challenge;
 * 3. the nonce is taken from the store (single use): `auts` → resync MAR with RAND (of that nonce's challenge) ‖ AUTS
 *    → fresh 401; used or expired → fresh 401 with `stale=TRUE` (RFC 7616 §3.3: the nonce was one of ours, issued for
 *    this IMPI: issued-nonces.ts, or the nonce a binding of the AOR was made with), never issued → `stale=FALSE`;
 * 4. challenge: at most `maxPendingChallenges` per IMPI (then the newest again, no MAR: pending-challenges.ts); MAR →
 *    vector or SIP Digest HA1s (challenges.ts), or for an identity the HSS refuses a decoy (decoy.ts) → stored under
 *    its nonce → 401;
 * 5. verify: empty `response` (the UE's MAC-failure report, 24.229 §5.1.1.5.3) → 403, the vector already gone; wrong
 *    response, identity, Digest `uri` (not the Request-URI) or algorithm, or any answer to a decoy → 403 and a failed
 *    authentication of the source address (source-guard.ts: enough of them ban it); Security-Verify not repeating
 *    Security-Server (RFC 3329 §2.3.1) → 494. Any `nc` is accepted on the nonce's one use: the nonce is single-use
 *    (taken from the store), so replay protection does not rest on the count, and real clients count on across
 *    nonces (linphone answers a fresh nonce with 00000002); no `nextnonce` is sent. Stale and unknown nonces, `auts`
 *    and malformed requests never count as failures;
 * 6. bindings merged (500 when out of order), SAR (REGISTRATION / RE_REGISTRATION, or USER_DEREGISTRATION when the
 *    last binding goes), bindings stored, `200 OK`.
 *
 * The seed steps of TS 23.280 §10.6.2.2/.3 the partner SIP core takes are logged where they happen: step 2 and step 12
 * (the UE's REGISTERs), step 3, step 10 and step 11 (the challenge), step 13 (the 200).
 */
import { ServerAssignmentType as SAT, type SaaData } from '../lib/diameter/cx/index.ts';
import { withFields } from '../lib/log.ts';
import { seedFlowOfPartnerIdentity, seedStep } from '../lib/seed-steps.ts';
import type { DigestCredentials } from '../lib/sip/headers/auth.ts';
import { addressOfRecord } from '../lib/sip/headers/uri.ts';
import type { SipRequest } from '../lib/sip/message.ts';
import type { ServerTransaction } from '../lib/sip/transaction/server.ts';
import { pickCredentials, verifyCredentials } from './auth.ts';
import { applyPlan, contactValue, planContacts, type Binding, type ContactPlan } from './bindings.ts';
import { challenge, type ChallengeOptions } from './challenge.ts';
import type { ChallengeIdentity, ChallengeRecord } from './challenges.ts';
import { asksForAka } from './decoy.ts';
import { isRegistrarError, sipStatusOf } from './errors.ts';
import { SECURITY_SERVER, checkExtensions, securityVerifyMatches } from './extensions.ts';
import { challengeAnswered, registrationOutcome } from './register-log.ts';
import type { RegisterContext, Turn } from './turn.ts';
import { escapeForHeader, publicIdentities } from './user-data.ts';

export type { RegisterContext } from './turn.ts';

/** Who a REGISTER says it is. */
interface Identified {
  cred: DigestCredentials | undefined;
  id: ChallengeIdentity;
}

/** The AOR's bindings before and after the REGISTER. */
interface BindingChange {
  before: Binding[];
  next: Binding[];
  /** The SAR it needs: none for a query of an AOR without bindings. */
  assignment: number | undefined;
  /** The profile's public identities kept with the bindings, when the registrar has the profile. */
  associated: string[] | undefined;
  path: string[];
  now: number;
}

/**
 * Handles one REGISTER, stage by stage. Registrar failures (HSS unavailable, user unknown, …) are answered with their
 * status here; a malformed header escapes as SipParseError, which the stack answers 400.
 */
export async function handleRegister(ctx: RegisterContext, req: SipRequest, tx: ServerTransaction): Promise<void> {
  const to = req.to();
  const impu = to.uri.kind === 'sip' ? addressOfRecord(to.uri) : to.uri.raw;
  const log = withFields(ctx.log, { impu, call_id: req.callId(), transport: tx.flow.transport });
  const t: Turn = { ctx, req, tx, log, impu, secAgree: false, akaAsked: false, flow: 'static', started: performance.now(), cxMs: 0 };
  try {
    const plan = receive(t, to.uri.kind === 'sip');
    if (!plan) return;
    const who = identify(t);
    if (!who.cred?.nonce) {
      ueRegisters(t, who.id, false);
      await challenge(t, who.id, { stale: false });
      return;
    }
    const record = await takeChallenge(t, who.id, who.cred.nonce);
    // RFC 7616 §3.3: stale only for a nonce of ours that is no longer valid, not for one we never issued.
    const stale = !record && await wasIssued(t, who.cred.nonce, who.id.impi);
    if (who.cred.auts !== undefined) {
      const again = resync(t, who.cred.auts, record, who.id, stale);
      if (again) await challenge(t, again.id, again.o);
      return;
    }
    if (!record) {
      t.log.debug({ stale }, stale ? 'nonce used or expired → fresh 401 stale=TRUE' : 'nonce never issued here → fresh 401 (not stale)');
      ueRegisters(t, who.id, stale);
      await challenge(t, who.id, { stale });
      return;
    }
    ueAnswers(t, record, who.cred);
    const verdict = verify(t, who.cred, record);
    if (verdict === 'answered') return;
    const change = await merge(t, record, plan, who.cred.nonce);
    if (!change) return;
    const saa = await sar(t, record, change);
    await bind(t, record, change, saa);
    answer(t, record, change, saa, verdict.authenticationInfo);
    // After the 200 (RFC 3680 §4: the NOTIFY reports the registration the response confirmed).
    if (change.assignment !== undefined) t.ctx.regEvent?.changed(record.impu, 'register');
  } catch (err) {
    if (!isRegistrarError(err)) throw err;
    const status = sipStatusOf(err.code);
    registrationOutcome(t, status, { code: err.code, reason: err.message });
    tx.reply(status);
  }
}

/**
 * Receive: what can be refused from the request alone, before any vector is spent.
 * @param sipTo the To URI is a SIP or SIPS URI.
 * @returns the contacts it asks for, or undefined once answered.
 */
function receive(t: Turn, sipTo: boolean): ContactPlan | undefined {
  const ext = checkExtensions(t.req, t.tx.flow);
  if (!ext.ok) {
    registrationOutcome(t, 420, { unsupported: ext.unsupported }, 'REGISTER requires unsupported extensions → 420');
    t.tx.reply(420, { headers: [['Unsupported', ext.unsupported.join(', ')]] });
    return undefined;
  }
  t.secAgree = ext.secAgree;
  if (t.req.requestUri().kind !== 'sip') {
    registrationOutcome(t, 416, {}, 'REGISTER refused before authentication → 416');
    t.tx.reply(416, { reason: 'Unsupported URI Scheme' });
    return undefined;
  }
  // RFC 3261 §10.2: the address-of-record in To MUST be a SIP or SIPS URI, so anything else is a bad request (RFC 4475
  // §3.3.4: "a registrar would reject this request with a 400"); 24.229 §5.1.1.2.1: tel URIs are registered implicitly.
  if (!sipTo) {
    registrationOutcome(t, 400, {}, 'REGISTER refused before authentication → 400');
    t.tx.reply(400, { reason: 'Bad Request (To is not a SIP or SIPS URI)' });
    return undefined;
  }
  const plan = planContacts(t.req, t.ctx.limits);
  if (!('status' in plan)) return plan;
  registrationOutcome(t, plan.status, {}, `REGISTER refused before authentication → ${plan.status}`);
  t.tx.reply(plan.status, { ...(plan.reason ? { reason: plan.reason } : {}), ...(plan.headers ? { headers: plan.headers } : {}) });
  return undefined;
}

/**
 * Identify: the credentials to act on, the IMPI (Authorization `username`, else the To URI without its scheme, 24.229
 * §5.1.1.2.1) and the seed flow of that identity.
 */
function identify(t: Turn): Identified {
  const cred = pickCredentials(t.req);
  const impi = cred?.username ? cred.username : t.impu.replace(/^sips?:/i, '');
  t.akaAsked = asksForAka(cred);
  t.flow = seedFlowOfPartnerIdentity(impi);
  return { cred, id: { impi, impu: t.impu } };
}

/** Seed step 2: the UE's REGISTER with the partner identities, without credentials of a nonce still pending. */
function ueRegisters(t: Turn, id: ChallengeIdentity, staleNonce: boolean): void {
  seedStep(t.log, t.flow, 2, 'ue', undefined, { impi: id.impi, impu: id.impu, ...(staleNonce ? { stale_nonce: true } : {}) });
}

/**
 * Whether a nonce no longer pending was one of ours, for `impi`: issued by this process (issued-nonces.ts), or — when
 * registrar processes share the store — the nonce a live binding of the To AOR was made with, wherever it was issued.
 */
async function wasIssued(t: Turn, nonce: string, impi: string): Promise<boolean> {
  if (t.ctx.issued.wasIssued(nonce, impi)) return true;
  return t.ctx.sharedStore ? t.ctx.bindings.madeWithNonce(t.impu, impi, nonce, t.ctx.now()) : false;
}

/** The challenge `nonce` stands for, taken from the store (single use) and so no longer pending. */
async function takeChallenge(t: Turn, id: ChallengeIdentity, nonce: string): Promise<ChallengeRecord | undefined> {
  const record = await t.ctx.challenges.take(nonce);
  t.ctx.pending.release(record?.impi ?? id.impi, nonce);
  t.first = challengeAnswered(nonce);
  return record;
}

/**
 * `auts` (step 12 of a synchronisation failure): the resync challenge to issue with the RAND of the challenge the UE
 * rejected (RFC 3310 §3.4). Without that challenge (used, expired or unknown nonce) there is no RAND to pair AUTS
 * with: a fresh 401 instead, stale=TRUE when the nonce was one of ours (`stale`); an answer to a decoy gets a fresh
 * decoy, not stale (which would tell it apart).
 * @returns what to challenge, or undefined once answered (malformed `auts` → 400).
 */
function resync(t: Turn, autsB64: string, record: ChallengeRecord | undefined, id: ChallengeIdentity, stale: boolean): { id: ChallengeIdentity; o: ChallengeOptions } | undefined {
  const auts = /^[A-Za-z0-9+/]+={0,2}$/.test(autsB64) ? Buffer.from(autsB64, 'base64') : Buffer.alloc(0);
  if (auts.length !== 14) {
    t.tx.reply(400, { reason: 'Malformed auts (RFC 3310 §3.4: base64 of 14 octets)' });
    return undefined;
  }
  if (record?.kind === 'decoy') {
    t.log.debug('auts answering a decoy → a fresh decoy challenge');
    return { id, o: { stale: false, aka: true } };
  }
  if (record?.kind !== 'aka') {
    t.log.debug({ stale }, 'auts for a nonce no longer pending → fresh 401');
    return { id, o: { stale } };
  }
  // step 12, answered with auts instead of a response
  seedStep(t.log, t.flow, 12, 'ue', 'UE → partner SIP core: SIP authentication challenge response with auts (synchronisation failure)',
    { impi: record.impi, impu: record.impu });
  t.log.debug('auts (synchronisation failure at the UE) → resync MAR, fresh 401');
  return { id: { impi: record.impi, impu: record.impu }, o: { stale: false, aka: true, resync: Buffer.concat([Buffer.from(record.rand, 'hex'), auts]) } };
}

/** Seed step 12: the UE's answer to a challenge still pending. */
function ueAnswers(t: Turn, record: ChallengeRecord, cred: DigestCredentials): void {
  seedStep(t.log, t.flow, 12, 'ue', undefined, { impi: record.impi, impu: record.impu, qop: cred.qop });
}

/**
 * Verify: the answer against the challenge its nonce named.
 * @returns the Authentication-Info of the 200, or `answered` (403, 494).
 */
function verify(t: Turn, cred: DigestCredentials, record: ChallengeRecord): { authenticationInfo: string } | 'answered' {
  const { ctx, req, tx } = t;
  if (!cred.response) {
    registrationOutcome(t, 403, { impi: record.impi, kind: record.kind }, 'empty response without auts (MAC failure at the UE, 24.229 §5.1.1.5.3) → 403, vector discarded', t.first);
    tx.reply(403, { reason: 'Forbidden (Network Authentication Failed)' });
    return 'answered';
  }
  const v = verifyCredentials(record, cred, {
    method: req.method, body: req.body, requestUri: req.requestUri(),
    receivedOn: { address: tx.flow.localAddress, port: tx.flow.localPort },
  });
  if (!v.ok || record.impu !== t.impu) {
    const failure = v.ok ? 'identity' : v.failure;
    const source = tx.flow.remoteAddress;
    registrationOutcome(t, 403, { impi: record.impi, failure, kind: record.kind, source }, 'credentials do not verify → 403 (a failed authentication of the source)', t.first);
    if (failure === 'uri') ctx.stats.inc('digest_uri_mismatches');
    ctx.guard.authFailed(source, record.impi);
    tx.reply(403, { reason: 'Forbidden (Authentication Failed)' });
    return 'answered';
  }
  if ((record.secAgree || req.headers.has('security-verify')) && !securityVerifyMatches(req)) {
    registrationOutcome(t, 494, { impi: record.impi }, 'Security-Verify does not repeat Security-Server (RFC 3329 §2.3.1) → 494', t.first);
    tx.reply(494, { headers: [['Security-Server', SECURITY_SERVER]] });
    return 'answered';
  }
  return { authenticationInfo: v.authenticationInfo };
}

/**
 * The AOR's bindings with the REGISTER's contacts merged in (RFC 3261 §10.3 steps 6–7).
 * @returns undefined once answered 500 (CSeq not above the binding of the same Call-ID).
 */
async function merge(t: Turn, r: ChallengeRecord, plan: ContactPlan, nonce: string): Promise<BindingChange | undefined> {
  const now = t.ctx.now();
  const { bindings: before, associated } = await t.ctx.bindings.record(r.impu, now);
  const path = t.req.headers.getAll('path');
  const flow = t.tx.flow;
  const next = applyPlan(before, plan, {
    callId: t.req.callId(), cseq: t.req.cseq().seq, path, now, source: `${flow.transport} ${flow.remoteAddress}:${flow.remotePort}`, nonce,
  });
  if (next) return { before, next, path, now, associated, assignment: assignmentFor(before.length, next.length) };
  registrationOutcome(t, 500, { impi: r.impi }, 'CSeq not above the binding of the same Call-ID (RFC 3261 §10.3 step 7) → 500', t.first);
  t.tx.reply(500, { reason: 'Out Of Order REGISTER' });
  return undefined;
}

/** The Server-Assignment-Type for a change from `before` to `after` live bindings, or undefined for none. */
function assignmentFor(before: number, after: number): number | undefined {
  if (after > 0) return before > 0 ? SAT.RE_REGISTRATION : SAT.REGISTRATION;
  return before > 0 ? SAT.USER_DEREGISTRATION : undefined;
}

/**
 * SAR: the user assigned to this registrar, re-assigned, or released with its last binding; none for a query. A
 * re-registration whose profile the registrar keeps says so (User-Data-Already-Available, TS 29.229 §6.3.26), and the
 * HSS need not send the profile again.
 */
async function sar(t: Turn, r: ChallengeRecord, change: BindingChange): Promise<SaaData | undefined> {
  if (change.assignment === undefined) return undefined;
  const hasProfile = change.assignment === SAT.RE_REGISTRATION && change.associated !== undefined;
  const sent = performance.now();
  try {
    return await t.ctx.cx.sar(r.impi, r.impu, change.assignment, hasProfile);
  } finally {
    t.cxMs += performance.now() - sent;
  }
}

/** The profile's public identities: the SAA's User-Data when it carried one, else the ones kept with the bindings. */
function associatedOf(change: BindingChange, saa: SaaData | undefined): string[] | undefined {
  return saa?.userData !== undefined ? publicIdentities(saa.userData) : change.associated;
}

/** Bind: the merged bindings stored (RFC 3261 §10.3 step 8), with the profile's identities. */
async function bind(t: Turn, r: ChallengeRecord, change: BindingChange, saa: SaaData | undefined): Promise<void> {
  await t.ctx.bindings.put(r.impu, r.impi, change.next, change.now, associatedOf(change, saa));
}

/**
 * Answer (step 13): `200 OK` with the bindings, Path, Date (RFC 3261 §10.3 step 8: SHOULD; a UE without a clock of its
 * own sets it from this), Service-Route, P-Associated-URI and Authentication-Info.
 */
function answer(t: Turn, r: ChallengeRecord, change: BindingChange, saa: SaaData | undefined, authenticationInfo: string): void {
  const associated = associatedOf(change, saa) ?? [];
  const headers: Array<[string, string]> = [
    ...change.next.map((b): [string, string] => ['Contact', contactValue(b, change.now)]),
    ...change.path.map((p): [string, string] => ['Path', p]),
    // §20.17: rfc1123-date, GMT only, which toUTCString writes.
    ['Date', new Date(change.now).toUTCString()],
    ['Service-Route', t.ctx.serviceRoute],
    ['P-Associated-URI', (associated.length > 0 ? associated.map(escapeForHeader) : [t.req.to().uri.raw]).map((u) => `<${u}>`).join(', ')],
    ['Authentication-Info', authenticationInfo],
  ];
  t.tx.reply(200, { headers });
  seedStep(t.log, t.flow, 13, 'registrar', undefined, {
    impi: r.impi, impu: r.impu, bindings: change.next.length, server_assignment_type: change.assignment, kind: r.kind,
  });
  registrationOutcome(t, 200, { impi: r.impi, kind: r.kind, bindings: change.next.length, server_assignment_type: change.assignment },
    change.next.length > 0 ? 'REGISTER → 200 (registered)' : 'REGISTER → 200 (deregistered)', t.first);
}
