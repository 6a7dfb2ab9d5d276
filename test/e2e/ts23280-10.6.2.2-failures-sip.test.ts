/**
 * TS 23.280 §10.6.2.2 failures as the UE sees them (DESIGN §2.1 maps the Cx outcome to SIP), through the full chain
 * of `mcx` processes (registrar → partner MMS → relay → HSS, mutual TLS on every leg but relay → HSS), with
 * hand-written SIP and our software ISIM (primary K/OP, partner identities):
 *
 * - a partner identity the MMS has no mapping for → 5001 from the MMS → a decoy 401 (no user enumeration, issue #11),
 *   whose AKA challenge the ISIM finds a MAC failure in → its empty response gets 403; nothing reaches the HSS;
 * - the primary HSS process stopped → 3002 from the relay → 504 within 2 s (to the first REGISTER, or — challenged
 *   with a vector kept from the last MAR — to the authenticated one, whose SAR fails); the HSS started again on the
 *   same port (same state directory, so SQNs continue) → 200 again with the same ISIM;
 * - a relay whose certificate comes from an unknown CA (a third system, `rogue`) is refused by the partner MMS
 *   (logged) and the registration fails (504, no binding, nothing reaches that relay).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AdminTarget } from '../../lib/admin/client.ts';
import { adminApi } from '../../lib/admin/hss-api.ts';
import { parseAkaNonce } from '../../lib/aka/index.ts';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import type { Isim } from '../../ue-client/isim.ts';
import { freePort } from '../helpers/ports.ts';
import type { TwoSystemTestbed } from '../../deploy/testbed-builder.ts';
import { K, OP, USER, assertUpstreamRefused, logLines, sipBindings, sipChain, staticTestbed, waitForLines, type Role, type SipChain } from '../mms/testbed.ts';
import {
  Ue, akaAnswer, callId, initialAuthorization, openIsim, registerAka, registerBytes, type AkaUser, type Reply,
} from '../registrar/helpers.ts';

const UE_USER: AkaUser = { impi: USER.partner.impi, impus: [...USER.partner.impus], k: K, op: OP, amf: '8000' };
const NOBODY: AkaUser = { ...UE_USER, impi: 'nobody@partner.example', impus: ['sip:nobody@partner.example'] };

/** The first REGISTER of `u` (24.229 initial form) and how long its final response took. */
async function firstRegister(ue: Ue, u: AkaUser): Promise<{ reply: Reply; ms: number }> {
  const t0 = performance.now();
  const reply = await ue.send(registerBytes(ue, { impu: u.impus[0] as string, callId: callId(), cseq: 1, authorization: initialAuthorization(u.impi) }), 5000);
  return { reply, ms: performance.now() - t0 };
}

/** Every AOR the registrar holds a binding for. */
async function aors(tb: TwoSystemTestbed, registrar: Role): Promise<string[]> {
  return (await sipBindings(tb, registrar)).map((b) => b.aor);
}

describe('TS 23.280 §10.6.2.2 failures at the UE: unmapped identity → decoy 401, then 403; primary HSS down → 504 within 2 s, then recovery', () => {
  let tb: TwoSystemTestbed;
  let chain: SipChain;
  let ue: Ue;
  let isim: Isim;
  let hssAdmin: AdminTarget;

  before(async () => {
    tb = await staticTestbed('e2e-failures');
    chain = await sipChain(tb);
    ue = await Ue.udp(chain.registrar.sipPort('udp'));
    isim = await openIsim(tb.dir, UE_USER);
    hssAdmin = await tb.adminTarget(chain.hss);
  });
  after(async () => {
    ue?.close();
    await tb?.close();
  });

  test('the mapped user registers (the chain works, so the failures below are the failures\' own)', async () => {
    const r = await registerAka(ue, isim, UE_USER);
    assert.equal(r.final.msg.status, 200, r.final.text);
  });

  test('a partner identity without mapping → a decoy 401, then 403 Forbidden; the MMS answered 5001 and the HSS saw no MAR', async () => {
    const before = await adminApi.stats(hssAdmin);
    const { reply } = await firstRegister(ue, NOBODY);
    assert.equal(reply.msg.status, 401, reply.text);
    const ch = reply.msg.wwwAuthenticate()[0] as DigestChallenge;
    const { rand, autn } = parseAkaNonce(ch.nonce as string);
    await assert.rejects(isim.authenticate(rand, autn), (e: Error & { code?: string }) => e.code === 'ERR_AKA_MAC_FAILURE');
    const empty = `Digest username="${NOBODY.impi}", realm="partner.example", nonce="${ch.nonce}", uri="sip:partner.example", response="", algorithm=AKAv1-MD5`;
    const refused = await ue.send(registerBytes(ue, { impu: NOBODY.impus[0] as string, callId: reply.msg.callId(), cseq: 2, authorization: empty }), 5000);
    assert.equal(refused.msg.status, 403, refused.text);
    await waitForLines(chain.mms, (l) => l.msg === `translation failed: no mapping for partner IMPI ${NOBODY.impi}`);
    assert.equal((await adminApi.stats(hssAdmin)).mar, before.mar);
    assert.ok(!(await aors(tb, chain.registrar)).includes(NOBODY.impus[0] as string));
  });

  test('primary HSS process stopped → 504 Server Time-out within 2 s (measured at the UE)', async () => {
    assert.equal(await chain.hss.stop('SIGTERM'), 0);
    await chain.relay.waitFor(/DPR received, DPA sent/, 5000);
    const first = await firstRegister(ue, UE_USER);
    let { reply, ms } = first;
    if (reply.msg.status === 401) {
      // A vector kept from the registration above: the challenge needs no HSS, the SAR of the answer does.
      const { authorization } = await akaAnswer(isim, reply.msg.wwwAuthenticate()[0] as DigestChallenge, { username: UE_USER.impi, qop: 'auth' });
      const t0 = performance.now();
      reply = await ue.send(registerBytes(ue, { impu: UE_USER.impus[0] as string, callId: reply.msg.callId(), cseq: 2, authorization }), 5000);
      ms = performance.now() - t0;
    }
    assert.equal(reply.msg.status, 504, reply.text);
    assert.ok(ms < 2000, `504 after ${Math.round(ms)} ms`);
    await waitForLines(chain.relay, (l) => /not delivered: Result-Code 3002/.test(String(l.msg)));
  });

  test('HSS started again on the same port: the relay reconnects and the same ISIM registers again → 200', async () => {
    const opened = (l: Record<string, unknown>): boolean => l.msg === 'Diameter peer open' && l.peer === 'hss.primary.example';
    const before = logLines(chain.relay).filter(opened).length;
    chain.hss = await tb.hss({ port: chain.hss.port });
    await waitForLines(chain.relay, opened, before + 1, 10_000);
    const r = await registerAka(ue, isim, UE_USER);
    assert.equal(r.final.msg.status, 200, r.final.text);
    assert.ok((await aors(tb, chain.registrar)).includes(UE_USER.impus[0] as string));
  });
});

describe('TS 33.180 inter-system TLS at the UE: a relay certified by an unknown CA is refused, the registration fails', () => {
  let tb: TwoSystemTestbed;
  let rogueRelay: Role;
  let mms: Role;
  let registrar: Role;
  let ue: Ue;

  before(async () => {
    tb = await staticTestbed('e2e-rogue');
    // The rogue relay's upstream does not matter: nothing ever gets that far.
    rogueRelay = await tb.relay({ upstream: await freePort(), system: 'rogue' });
    mms = await tb.partnerMms({ upstream: rogueRelay.port });
    registrar = await tb.registrar({ mms: mms.port });
    ue = await Ue.udp(registrar.sipPort('udp'));
  });
  after(async () => {
    ue?.close();
    await tb?.close();
  });

  test('the partner MMS refuses the rogue relay\'s certificate (logged at warn) and never routes to it', async () => {
    await assertUpstreamRefused(mms);
  });

  test('REGISTER → 504 (the MMS answers 3002): no challenge, no binding, and no request reached the rogue relay', async () => {
    const { reply } = await firstRegister(ue, UE_USER);
    assert.equal(reply.msg.status, 504, reply.text);
    await waitForLines(mms, (l) => /^translation failed: primary unreachable/.test(String(l.msg)));
    assert.deepEqual(await aors(tb, registrar), []);
    assert.ok(!logLines(rogueRelay).some((l) => l.step !== undefined), 'the rogue relay logged no seed step');
  });
});
