/**
 * RFC 3310 §3.3–3.5, RFC 4169, RFC 2617 §3.2.2 / RFC 8760 on the UE's Digest answers (aka-auth.ts), checked against
 * an independent computation with lib/aka and a home environment simulated with Milenage: the `response` over RES as
 * raw octets (SIP.js's own MD5 of a UTF-8 string would get it wrong), the algorithm written as challenged (SIP.js's
 * grammar upper-cases it), `nc` counted per nonce with a fresh `cnonce`, `auts` with the response over the empty
 * password, `response=""` without `auts` on a MAC failure, the preferred of several challenges, and `rspauth`.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Core, UserAgent } from 'sip.js';
import {
  Milenage, akaNonce, akav2Password, digestResponse, generateVector, makeSqn, rspauth, type AuthVector,
} from '../../lib/aka/index.ts';
import { parseCredentials, parseMessage, type DigestCredentials } from '../../lib/sip/index.ts';
import { AkaDigestAuthentication, DigestResponder } from '../../ue-client/aka-auth.ts';
import { Isim } from '../../ue-client/isim.ts';

const REALM = 'partner.example';
const IMPI = `alice@${REALM}`;
const K = Buffer.from('465b5ce8b199b49faa5f0a2ee238a6bc', 'hex');
const OP = Buffer.from('cdc202d5123e20f62b6d676ac72cb318', 'hex');
const AMF = Buffer.from('8000', 'hex');
const he = Milenage.fromOp(K, OP);
const dirs: string[] = [];
const isims: Isim[] = [];
after(async () => {
  await Promise.all(isims.map((i) => i.close()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A fresh ISIM in its own directory (closed at the end). */
async function isim(): Promise<Isim> {
  const dir = await mkdtemp(join(tmpdir(), 'mcx-ue-digest-'));
  dirs.push(dir);
  const card = await Isim.open(join(dir, 'isim.json'), { k: K, op: OP, impi: IMPI, impus: [`sip:${IMPI}`], domain: REALM });
  isims.push(card);
  return card;
}

let branches = 0;
/** A REGISTER as SIP.js holds it, last sent with a fresh branch (the one the challenge came back on). */
function request(): Core.OutgoingRequestMessage {
  const uri = UserAgent.makeURI(`sip:${IMPI}`);
  const ruri = UserAgent.makeURI(`sip:${REALM}`);
  assert.ok(uri && ruri);
  const r = new Core.OutgoingRequestMessage('REGISTER', ruri, uri, uri, { callId: 'c1', cseq: 1 });
  r.setViaHeader(`z9hG4bK-test-${++branches}`, 'UDP');
  return r;
}

function response(branch: string, status: string, headers: string[]): string {
  return [`SIP/2.0 ${status}`, `Via: SIP/2.0/UDP 127.0.0.1;branch=${branch};rport=5060`, `From: <sip:${IMPI}>;tag=1`, `To: <sip:${IMPI}>;tag=2`,
    'Call-ID: c1', 'CSeq: 1 REGISTER', ...headers, 'Content-Length: 0', '', ''].join('\r\n');
}

/** Delivers a challenge for `req` to the responder as the transport hook would. */
async function challenge(r: DigestResponder, req: Core.OutgoingRequestMessage, ...www: string[]): Promise<void> {
  const raw = response(req.branch ?? '', '401 Unauthorized', www.map((w) => `WWW-Authenticate: ${w}`));
  await r.inboundHook(raw, parseMessage(Buffer.from(raw)));
}

function akaChallenge(v: AuthVector, algorithm = 'AKAv1-MD5'): string {
  return `Digest realm="${REALM}", nonce="${akaNonce(v.rand, v.autn)}", algorithm=${algorithm}, qop="auth,auth-int", opaque="op4que"`;
}

function answer(r: DigestResponder, req: Core.OutgoingRequestMessage): DigestCredentials {
  const header = r.authorize(req);
  assert.ok(header, 'the responder answers');
  return parseCredentials(header);
}

function expected(c: DigestCredentials, password: Buffer, hash: 'md5' | 'sha-256' = 'md5'): string {
  return digestResponse({
    method: 'REGISTER', username: IMPI, realm: REALM, uri: `sip:${REALM}`, nonce: c.nonce ?? '', nc: c.nc, cnonce: c.cnonce, qop: 'auth', password, hash,
  });
}

test('AKAv1-MD5: RES as raw octets, algorithm as challenged, qop=auth, nc=00000001 then 00000002 on the same nonce', async () => {
  const r = new DigestResponder({ isim: await isim() }, IMPI);
  const v = generateVector({ milenage: he, sqn: makeSqn(1n, 0), amf: AMF });
  const req = request();
  await challenge(r, req, akaChallenge(v));
  assert.deepEqual(r.answerFor(req.branch), { ok: true, note: { algorithm: 'AKAv1-MD5', outcome: 'res' } });
  const c = answer(r, req);
  assert.equal(c.username, IMPI);
  assert.equal(c.realm, REALM);
  assert.equal(c.uri, `sip:${REALM}`);
  assert.equal(c.algorithm, 'AKAv1-MD5', 'not SIP.js\'s AKAV1-MD5');
  assert.equal(c.qop, 'auth');
  assert.equal(c.nc, '00000001');
  assert.match(c.cnonce ?? '', /^[0-9a-f]{16}$/);
  assert.equal(c.opaque, 'op4que');
  assert.equal(c.auts, undefined);
  assert.equal(c.response, expected(c, v.xres));
  const again = answer(r, req);
  assert.equal(again.nc, '00000002');
  assert.notEqual(again.cnonce, c.cnonce);
  assert.equal(again.response, expected(again, v.xres));
});

test('AKAv2-MD5: the RFC 4169 password base64(HMAC-MD5(RES‖IK‖CK, "http-digest-akav2-password"))', async () => {
  const r = new DigestResponder({ isim: await isim() }, IMPI);
  const v = generateVector({ milenage: he, sqn: makeSqn(1n, 0), amf: AMF });
  const req = request();
  await challenge(r, req, akaChallenge(v, 'AKAv2-MD5'));
  const c = answer(r, req);
  assert.equal(c.algorithm, 'AKAv2-MD5');
  assert.equal(c.response, expected(c, akav2Password(v.xres, v.ik, v.ck)));
});

test('sync failure: auts = base64(AUTS, 14 octets), response over the empty password (RFC 3310 §3.4)', async () => {
  const card = await isim();
  const ahead = generateVector({ milenage: he, sqn: makeSqn(5n, 0), amf: AMF });
  await card.authenticate(ahead.rand, ahead.autn);
  const r = new DigestResponder({ isim: card }, IMPI);
  const stale = generateVector({ milenage: he, sqn: makeSqn(2n, 0), amf: AMF });
  const req = request();
  await challenge(r, req, akaChallenge(stale));
  assert.deepEqual(r.answerFor(req.branch), { ok: true, note: { algorithm: 'AKAv1-MD5', outcome: 'sync-failure', reason: 'replay' } });
  const c = answer(r, req);
  assert.equal(Buffer.from(c.auts ?? '', 'base64').length, 14);
  assert.equal(c.response, expected(c, Buffer.alloc(0)));
  assert.equal(r.macFailureSent, false);
});

test('MAC failure: response="" and no auts (TS 24.229 §5.1.1.5.3); the responder remembers it sent that', async () => {
  const r = new DigestResponder({ isim: await isim() }, IMPI);
  const forged = generateVector({ milenage: Milenage.fromOp(K, Buffer.alloc(16, 0xab)), sqn: makeSqn(1n, 0), amf: AMF });
  const req = request();
  await challenge(r, req, akaChallenge(forged));
  assert.deepEqual(r.answerFor(req.branch), { ok: true, note: { algorithm: 'AKAv1-MD5', outcome: 'mac-failure' } });
  const c = answer(r, req);
  assert.equal(c.response, '');
  assert.equal(c.auts, undefined);
  assert.equal(r.macFailureSent, true);
});

test('SIP Digest: the first challenge it can answer wins (SHA-256 before MD5), hashed with SHA-256 over the password octets', async () => {
  const password = Buffer.from('pässword', 'utf8');
  const r = new DigestResponder({ password }, IMPI);
  const req = request();
  await challenge(r, req, `Digest realm="${REALM}", nonce="n1", algorithm=SHA-256, qop="auth"`, `Digest realm="${REALM}", nonce="n1", algorithm=MD5, qop="auth"`);
  const c = answer(r, req);
  assert.equal(c.algorithm, 'SHA-256');
  assert.equal(c.response, expected(c, password, 'sha-256'));
});

test('unanswerable challenges say why; SIP.js\'s authenticate() then returns false so the 401 reaches the delegate', async () => {
  const r = new DigestResponder({ password: Buffer.from('x') }, IMPI);
  const req = request();
  await challenge(r, req, `Digest realm="${REALM}", nonce="n", algorithm=SHA-512-256`, `Digest realm="${REALM}", nonce="m", algorithm=AKAv1-MD5`);
  const a = r.answerFor(req.branch);
  assert.ok(a && !a.ok && a.error.code === 'UE_CHALLENGE_UNSUPPORTED');
  assert.match(a.error.message, /offered SHA-512-256, AKAv1-MD5; the UE holds a password/);
  const sipjs = new AkaDigestAuthentication(new Core.LoggerFactory(), r);
  assert.equal(sipjs.authenticate(req, {}), false);
  assert.throws(() => sipjs.toString(), { code: 'UE_STATE' });

  const aka = new DigestResponder({ isim: await isim() }, IMPI);
  const bad = request();
  await challenge(aka, bad, `Digest realm="${REALM}", nonce="not base64!", algorithm=AKAv1-MD5`);
  const b = aka.answerFor(bad.branch);
  assert.ok(b && !b.ok && b.error.code === 'UE_CHALLENGE_INVALID', JSON.stringify(b));
});

test('rspauth of the 200 (RFC 3310 §3.5: XRES as password, empty method): verified, mismatch, absent', async () => {
  const r = new DigestResponder({ isim: await isim() }, IMPI);
  const verdicts: string[] = [];
  for (const kind of ['good', 'bad', 'none'] as const) {
    const v = generateVector({ milenage: he, sqn: makeSqn(BigInt(verdicts.length + 1), 0), amf: AMF });
    const req = request();
    await challenge(r, req, akaChallenge(v));
    const header = r.authorize(req) ?? '';
    const c = parseCredentials(header);
    // The REGISTER carrying it leaves on a new branch; the tap ties that branch to these credentials.
    const sent = request();
    r.wireTap({ direction: 'out', raw: `REGISTER sip:${REALM} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=${sent.branch};rport\r\nFrom: <sip:${IMPI}>;tag=1\r\nTo: <sip:${IMPI}>\r\nCall-ID: c1\r\nCSeq: 2 REGISTER\r\nAuthorization: ${header}\r\nContent-Length: 0\r\n\r\n`, dropped: false, retransmission: false, at: 0 });
    const good = rspauth({ username: IMPI, realm: REALM, uri: `sip:${REALM}`, nonce: c.nonce ?? '', nc: c.nc, cnonce: c.cnonce, qop: 'auth', password: v.xres });
    const info = kind === 'none' ? [] : [`Authentication-Info: rspauth="${kind === 'good' ? good : '0'.repeat(32)}", cnonce="${c.cnonce}", nc=${c.nc}, qop=auth`];
    const raw = response(sent.branch ?? '', '200 OK', info);
    await r.inboundHook(raw, parseMessage(Buffer.from(raw)));
    verdicts.push(r.rspauthVerdict(sent.branch));
  }
  assert.deepEqual(verdicts, ['verified', 'mismatch', 'absent']);
});
