/**
 * TS 33.102 §6.3.5 / RFC 3310 §3.4 resynchronisation across the partner MMS at the SIP level (TS 23.280 §10.6.2.2),
 * every role its own `mcx` process and every Diameter leg mutual TLS except relay → HSS (plain TCP, captured): the
 * UE is our software ISIM (primary K/OP, partner identities) whose SEQ_MS is far ahead of the HSS, speaking SIP
 * written by hand:
 *
 *   REGISTER → 401 nonce₁ (an SQN the ISIM has seen) → ISIM: sync failure → REGISTER auts="AUTS" (hand-built from
 *   RAND₁ and SQN_MS; it equals the ISIM's) → registrar: resync MAR → partner MMS → relay → HSS: SEQ_HE from SQN_MS →
 *   fresh 401 nonce₂ → ISIM accepts → REGISTER with RES → 200.
 *
 * Asserted: that ladder; the HSS reset SEQ_HE from the SQN_MS the UE sent, for the primary IMPI; the resync MAR that
 * reached the HSS carries RAND₁‖AUTS byte for byte, under the primary identity (the MMS keeps SIP-Auth-Data unchanged).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildAuts, parseAkaNonce, seqOf } from '../../lib/aka/index.ts';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import type { Isim } from '../../ue-client/isim.ts';
import { startCapture, tsharkFields, type Capture } from '../helpers/tshark.ts';
import type { TwoSystemTestbed } from '../../deploy/testbed-builder.ts';
import { K, OP, USER, USIM, logLines, sipChain, staticTestbed, waitForLines, type SipChain } from '../mms/testbed.ts';
import {
  Ue, advanceIsim, callId, credentials, initialAuthorization, openIsim, registerBytes, type AkaUser, type Reply,
} from '../registrar/helpers.ts';

/** The migrating user as its UE sees it: partner identities, the keys of its primary ISIM. */
const UE_USER: AkaUser = { impi: USER.partner.impi, impus: [...USER.partner.impus], k: K, op: OP, amf: '8000' };
const IMPU = USER.partner.impus[0];
const SEQ_AHEAD = 5000n;

describe('TS 33.102 §6.3.5 across the partner MMS: ISIM ahead → auts → resync MAR to the primary HSS → fresh 401 → 200', () => {
  let tb: TwoSystemTestbed;
  let chain: SipChain;
  let capture: Capture;
  let ue: Ue;
  let isim: Isim;
  const ladder: { r1?: Reply; r2?: Reply; r3?: Reply; rand1?: Buffer; auts?: Buffer; isimAuts?: Buffer; sqnMs?: string } = {};

  before(async () => {
    tb = await staticTestbed('e2e-resync');
    chain = await sipChain(tb);
    capture = await startCapture(`tcp port ${chain.hss.port}`);
    ue = await Ue.udp(chain.registrar.sipPort('udp'));
    isim = await openIsim(tb.dir, UE_USER);
    await advanceIsim(isim, UE_USER, SEQ_AHEAD);
  });
  after(async () => {
    ue?.close();
    await capture?.stop();
    capture?.remove();
    await tb?.close();
  });

  test('REGISTER → 401; the ISIM finds the SQN stale; the hand-built auts equals the ISIM\'s', async () => {
    const id = callId();
    ladder.r1 = await ue.send(registerBytes(ue, { impu: IMPU, callId: id, cseq: 1, authorization: initialAuthorization(UE_USER.impi) }));
    assert.equal(ladder.r1.msg.status, 401, ladder.r1.text);
    const { rand, autn } = parseAkaNonce((ladder.r1.msg.wwwAuthenticate()[0] as DigestChallenge).nonce as string);
    const verdict = await isim.authenticate(rand, autn);
    assert.ok('syncFailure' in verdict, 'the ISIM must find the HSS SQN stale');
    assert.equal(verdict.reason, 'replay');
    ladder.sqnMs = isim.toJSON().sqnMs;
    ladder.rand1 = rand;
    ladder.isimAuts = verdict.syncFailure;
    ladder.auts = buildAuts(USIM, rand, BigInt(`0x${ladder.sqnMs}`));
    assert.equal(seqOf(BigInt(`0x${ladder.sqnMs}`)), SEQ_AHEAD + 31n);
    assert.equal(ladder.auts.toString('hex'), ladder.isimAuts.toString('hex'));
  });

  test('REGISTER with auts (empty password) → a fresh 401 (new nonce, not stale) whose vector the ISIM accepts; then 200', async () => {
    assert.ok(ladder.r1 && ladder.auts, 'needs the 401 above');
    const id = ladder.r1.msg.callId();
    const ch1 = ladder.r1.msg.wwwAuthenticate()[0] as DigestChallenge;
    const withAuts = credentials(ch1, { username: UE_USER.impi, qop: 'auth' }, Buffer.alloc(0), ladder.auts.toString('base64'));
    assert.match(withAuts, /auts="[A-Za-z0-9+/]{19}="/);
    ladder.r2 = await ue.send(registerBytes(ue, { impu: IMPU, callId: id, cseq: 2, authorization: withAuts }));
    assert.equal(ladder.r2.msg.status, 401, ladder.r2.text);
    const ch2 = ladder.r2.msg.wwwAuthenticate()[0] as DigestChallenge;
    assert.notEqual(ch2.nonce, ch1.nonce);
    assert.equal(ch2.stale, false, 'a resync challenge is not a stale-nonce challenge');
    const { rand, autn } = parseAkaNonce(ch2.nonce as string);
    const answer = await isim.authenticate(rand, autn);
    assert.ok('res' in answer, 'after the resync the ISIM accepts the vector');
    ladder.r3 = await ue.send(registerBytes(ue, { impu: IMPU, callId: id, cseq: 3, authorization: credentials(ch2, { username: UE_USER.impi, qop: 'auth' }, answer.res) }));
    assert.equal(ladder.r3.msg.status, 200, ladder.r3.text);
    assert.match(ladder.r3.msg.authenticationInfo()?.rspauth ?? '', /^[0-9a-f]{32}$/, 'rspauth on the 200');
  });

  test('the HSS reset SEQ_HE from the SQN_MS the UE sent, for the primary IMPI; the registrar logged the resync for the partner IMPI', async () => {
    assert.ok(ladder.sqnMs, 'needs the ladder above');
    const [reset] = await waitForLines(chain.hss, (l) => l.msg === 'resync: SEQ_HE set from SQN_MS');
    assert.equal(reset?.sqn_ms, ladder.sqnMs);
    const mars = logLines(chain.hss).filter((l) => l.clause === '29.228 §6.3.1');
    assert.ok(mars.length >= 2 && mars.every((l) => l.impi === USER.primary.impi), JSON.stringify(mars));
    const resync = logLines(chain.registrar).filter((l) => l.step === 3 && l.resync === true);
    assert.equal(resync.length, 1);
    assert.equal(resync[0]?.impi, USER.partner.impi);
  });

  test('tshark, relay → HSS: exactly one MAR carries SIP-Authorization = RAND₁‖AUTS byte for byte, under the primary IMPI', async () => {
    assert.ok(ladder.rand1 && ladder.auts, 'needs the ladder above');
    await capture.stop();
    const rows = await tsharkFields(capture.file, chain.hss.port, 'diameter', ['diameter.cmd.code', 'diameter.flags.request', 'diameter.User-Name', 'diameter.3GPP-SIP-Authorization']);
    const mars = rows.filter(([code, req]) => code === '303' && (req === '1' || req === 'True'));
    assert.equal(mars.length, 2, `MARs: ${JSON.stringify(rows)}`);
    const resync = mars.filter(([, , , authz]) => authz !== undefined && authz !== '');
    assert.equal(resync.length, 1);
    const [, , userName, authz] = resync[0] as string[];
    assert.equal(userName, USER.primary.impi);
    assert.equal(Buffer.from((authz as string).replace(/[:\s]/g, ''), 'hex').toString('hex'), Buffer.concat([ladder.rand1, ladder.auts]).toString('hex'));
  });
});
