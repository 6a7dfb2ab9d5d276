/**
 * TS 29.229 §6.1.9/§6.1.10 (TS 29.228 §6.1.3) at the registrar (registrar/rtr.ts): a Registration-Termination-Request
 * from its HSS peer (here the test HSS's own node sends it) removes the bindings of the public identities it names,
 * drops the IMPI's kept vectors and ends its pending challenges (an answer to one gets a fresh 401, never a 200), and
 * is answered 2001; an RTR for an identity the registrar holds nothing of is answered Experimental-Result 5001; an
 * RTR without Public-Identity ends every AOR of the IMPI; a binding of another IMPI is never touched; a malformed RTR
 * gets 5005.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { ReasonCode, buildRtr, readCxResult, type RtrInput } from '../../lib/diameter/cx/index.ts';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import {
  DOMAIN, HSS_REALM, Ue, adminBindings, akaAnswer, akaUser, callId, initialAuthorization, openIsim, registerAka, registerBytes,
  registrarFixture, sipPort,
} from './helpers.ts';

const alice = akaUser('alice');
const bob = akaUser('bob');
const carol = akaUser('carol');
const REGISTRAR = `registrar.${DOMAIN}`;

describe('TS 29.229 §6.1.9: Registration-Termination-Request at the registrar', () => {
  const f = registrarFixture({ aka: [alice, bob, carol], registrar: { admin: { host: '127.0.0.1', port: 0 } } });
  let sessions = 0;

  /** Sends an RTR from the HSS's node to the registrar and returns the RTA. */
  function rtr(over: Partial<RtrInput> & { userName: string }): Promise<DiameterMessage> {
    const node = f.hss.node;
    return node.request(buildRtr({
      sessionId: `hss.${HSS_REALM};1;${++sessions}`, originHost: node.originHost, originRealm: node.originRealm, destinationHost: REGISTRAR,
      destinationRealm: DOMAIN, publicIdentities: [], reasonCode: ReasonCode.PERMANENT_TERMINATION, reasonInfo: 'migration ended', ...over,
    }), { host: REGISTRAR, timeoutMs: 2000 });
  }
  const aors = async (): Promise<string[]> => (await adminBindings(f.reg)).map((b) => b.aor).sort();

  test('a registered identity: bindings gone, kept vectors dropped, a pending challenge no longer answerable; RTA 2001', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    const isim = await openIsim(f.dir, alice);
    try {
      assert.equal((await registerAka(ue, isim, alice)).final.msg.status, 200);
      assert.equal((await registerAka(ue, await openIsim(f.dir, bob), bob)).final.msg.status, 200);
      const id = callId();
      const impu = alice.impus[0] as string;
      const pending = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 1, authorization: initialAuthorization(alice.impi) }));
      assert.equal(pending.msg.status, 401);
      assert.deepEqual(await aors(), [alice.impus[0], bob.impus[0]].sort());
      const dropped = f.reg.stats.get('vectors_dropped');
      const rta = await rtr({ userName: alice.impi, publicIdentities: [impu] });
      assert.deepEqual(readCxResult(rta), { resultCode: 2001 });
      assert.deepEqual(await aors(), [bob.impus[0]], 'only alice is de-registered');
      assert.equal(f.reg.stats.get('vectors_dropped') - dropped, 2, 'the two vectors left of her MAR\'s four (one registered, one pending)');
      const a = await akaAnswer(isim, pending.msg.wwwAuthenticate()[0] as DigestChallenge, { username: alice.impi, qop: 'auth' });
      const late = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 2, authorization: a.authorization }));
      assert.equal(late.msg.status, 401, 'the challenge issued before the RTR is gone');
      assert.equal(late.msg.wwwAuthenticate()[0]?.stale, true);
      assert.equal(f.reg.stats.get('registration_terminations'), 1);
    } finally {
      ue.close();
    }
  });

  test('nothing held for the identity: Experimental-Result 5001 DIAMETER_ERROR_USER_UNKNOWN', async () => {
    assert.deepEqual(readCxResult(await rtr({ userName: `nobody@${DOMAIN}`, publicIdentities: [`sip:nobody@${DOMAIN}`] })),
      { experimentalResult: { vendorId: 10415, code: 5001 } });
  });

  test('a Public-Identity bound to another IMPI stays; without Public-Identity every AOR of the IMPI ends', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    try {
      assert.equal((await registerAka(ue, await openIsim(f.dir, carol), carol)).final.msg.status, 200);
      assert.equal(readCxResult(await rtr({ userName: carol.impi, publicIdentities: [bob.impus[0] as string] })).resultCode, 2001,
        "carol's kept vectors were dropped");
      assert.deepEqual(await aors(), [bob.impus[0], carol.impus[0]].sort(), "bob's binding is not carol's to end");
      assert.deepEqual(readCxResult(await rtr({ userName: carol.impi })), { resultCode: 2001 });
      assert.deepEqual(await aors(), [bob.impus[0]]);
    } finally {
      ue.close();
    }
  });

  test('an RTR without Deregistration-Reason → 5005 DIAMETER_MISSING_AVP', async () => {
    const node = f.hss.node;
    const msg = buildRtr({
      sessionId: `hss.${HSS_REALM};1;${++sessions}`, originHost: node.originHost, originRealm: node.originRealm, destinationHost: REGISTRAR,
      destinationRealm: DOMAIN, userName: bob.impi, publicIdentities: [], reasonCode: 0,
    });
    const broken = { ...msg, avps: msg.avps.filter((a) => a.code !== 615) };
    assert.deepEqual(readCxResult(await node.request(broken, { host: REGISTRAR, timeoutMs: 2000 })), { resultCode: 5005 });
    assert.deepEqual(await aors(), [bob.impus[0]]);
  });
});
