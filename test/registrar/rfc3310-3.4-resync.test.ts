/**
 * RFC 3310 §3.4 / TS 33.102 §6.3.5 / DESIGN §2.1 through the registrar: an ISIM whose SQN is ahead of the HSS answers
 * the 401 with `auts` (empty password); the registrar sends a resync MAR whose SIP-Authorization is RAND (of the
 * stored challenge of that nonce) ‖ AUTS, answers a fresh (not stale) 401, and the ISIM accepts the new vector → 200.
 * An `auts` for a nonce the registrar never issued gets a fresh 401 (stale=FALSE, RFC 7616 §3.3) and no resync.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import {
  Ue, advanceIsim, akaAnswer, akaUser, callId, captureLogger, credentials, initialAuthorization, openIsim,
  registerBytes, registrarFixture, sipPort,
} from './helpers.ts';

const alice = akaUser('alice');
const bob = akaUser('bob');

describe('RFC 3310 §3.4: resynchronisation through the registrar', () => {
  const logs = captureLogger();
  const f = registrarFixture({ aka: [alice, bob], registrar: { logger: logs.logger } });

  test('ISIM ahead → auts → resync MAR → fresh 401 → 200', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    const isim = await openIsim(f.dir, alice);
    await advanceIsim(isim, alice);
    try {
      const id = callId();
      const impu = alice.impus[0] as string;
      const r1 = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 1, authorization: initialAuthorization(alice.impi) }));
      const ch1 = r1.msg.wwwAuthenticate()[0] as DigestChallenge;
      const a1 = await akaAnswer(isim, ch1, { username: alice.impi, qop: 'auth' });
      assert.ok('syncFailure' in a1.result, 'the ISIM must find the HSS SQN stale');
      assert.match(a1.authorization, /auts="[A-Za-z0-9+/]{19}="/);
      const r2 = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 2, authorization: a1.authorization }));
      assert.equal(r2.msg.status, 401, r2.text);
      const ch2 = r2.msg.wwwAuthenticate()[0] as DigestChallenge;
      assert.notEqual(ch2.nonce, ch1.nonce);
      assert.equal(ch2.stale, false, 'a resync challenge is not a stale-nonce challenge');
      const a2 = await akaAnswer(isim, ch2, { username: alice.impi, qop: 'auth' });
      assert.ok('res' in a2.result, 'after the resync the ISIM accepts the vector');
      const r3 = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 3, authorization: a2.authorization }));
      assert.equal(r3.msg.status, 200, r3.text);
      const lines = logs.lines();
      assert.ok(lines.some((l) => l.step === 3 && l.resync === true), 'step 3 logged with resync');
    } finally {
      ue.close();
    }
  });

  test('auts for a nonce never issued → fresh 401 with stale=FALSE, no resync', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    try {
      const impu = bob.impus[0] as string;
      const r1 = await ue.send(registerBytes(ue, { impu, callId: callId(), cseq: 1 }));
      const ch = { ...(r1.msg.wwwAuthenticate()[0] as DigestChallenge), nonce: Buffer.alloc(32, 1).toString('base64') };
      const authorization = credentials(ch, { username: bob.impi, qop: 'auth' }, Buffer.alloc(0), Buffer.alloc(14, 2).toString('base64'));
      const before = logs.lines().filter((l) => l.resync === true).length;
      const r2 = await ue.send(registerBytes(ue, { impu, callId: callId(), cseq: 1, authorization }));
      assert.equal(r2.msg.status, 401);
      assert.equal(r2.msg.wwwAuthenticate()[0]?.stale, false);
      assert.equal(logs.lines().filter((l) => l.resync === true).length, before);
    } finally {
      ue.close();
    }
  });
});
