/**
 * DESIGN §2.1: Diameter timeout (1.5 s at the registrar), no open peer, or Result-Code 3002/3004 → `504` within 2 s;
 * other failure answers → 500; a SAR that times out → 504 and no binding; the registrar recovers when the HSS comes
 * back, and fails over to a second HSS peer. The HSS side is a stub Diameter node whose behaviour each test sets,
 * and a real HSS for recovery and failover.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Milenage, generateVector, makeSqn } from '../../lib/aka/index.ts';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { ResultCode } from '../../lib/diameter/constants.ts';
import { CX_APPLICATION_ID, CxCommand, buildMaa, cxErrorAnswer } from '../../lib/diameter/cx/index.ts';
import { CX_APPLICATION, DiameterNode } from '../../lib/diameter/node.ts';
import type { RunningRegistrar } from '../../registrar/server.ts';
import {
  HSS_REALM, Ue, akaUser, callId, hssPort, initialAuthorization, openIsim, registerAka, registerBytes,
  registrarFixture, sipPort, type AkaUser,
} from './helpers.ts';

type Mode = 'hang' | 'sar-hang' | number;

const alice = akaUser('alice');
const origin = { originHost: `stub.${HSS_REALM}`, originRealm: HSS_REALM };

/** A Cx peer that hangs, answers a given Result-Code, or issues a real vector for alice and then hangs on SAR. */
async function stubHss(state: { mode: Mode }): Promise<{ node: DiameterNode; port: number }> {
  const node = new DiameterNode({ ...origin, applications: [CX_APPLICATION] });
  const milenage = Milenage.fromOp(Buffer.from(alice.k, 'hex'), Buffer.from(alice.op, 'hex'));
  let seq = 1n;
  const never = new Promise<DiameterMessage>(() => undefined);
  node.handle(CX_APPLICATION_ID, CxCommand.MAR, (req) => {
    if (state.mode === 'hang') return never;
    if (typeof state.mode === 'number') return cxErrorAnswer(req, { resultCode: state.mode }, origin);
    const v = generateVector({ milenage, sqn: makeSqn(seq++, 1), amf: Buffer.from(alice.amf, 'hex') });
    return buildMaa(req, { ...origin, result: { resultCode: ResultCode.SUCCESS }, items: [
      { itemNumber: 1, scheme: 'Digest-AKAv1-MD5', authenticate: Buffer.concat([v.rand, v.autn]), authorization: v.xres, ck: v.ck, ik: v.ik },
    ] });
  });
  node.handle(CX_APPLICATION_ID, CxCommand.SAR, () => never);
  const { port } = await node.listen({ host: '127.0.0.1', port: 0 });
  return { node, port };
}

describe('DESIGN §2.1: HSS unavailable → 504 within 2 s', () => {
  const f = registrarFixture({ registrar: false });
  const state: { mode: Mode } = { mode: 'hang' };
  let reg: RunningRegistrar;
  let ue: Ue;

  before(async () => {
    const stub = await stubHss(state);
    f.onTeardown(() => stub.node.close());
    reg = await f.startRegistrar({}, [stub.port]);
    ue = await Ue.udp(sipPort(reg, 'UDP'));
    f.onTeardown(() => ue.close());
  });

  async function timed(u: AkaUser): Promise<{ status: number; ms: number }> {
    const t0 = Date.now();
    const r = await ue.send(registerBytes(ue, { impu: u.impus[0] as string, callId: callId(), cseq: 1, authorization: initialAuthorization(u.impi) }), 5000);
    return { status: r.msg.status, ms: Date.now() - t0 };
  }

  test('no MAA within 1.5 s → 504 Server Time-out, sent before 2 s', async () => {
    state.mode = 'hang';
    const r = await timed(alice);
    assert.equal(r.status, 504);
    assert.ok(r.ms >= 1400 && r.ms < 2000, `answered after ${r.ms} ms`);
  });

  for (const code of [ResultCode.UNABLE_TO_DELIVER, ResultCode.TOO_BUSY]) {
    test(`Result-Code ${code} → 504 at once`, async () => {
      state.mode = code;
      const r = await timed(alice);
      assert.equal(r.status, 504);
      assert.ok(r.ms < 1000, `answered after ${r.ms} ms`);
    });
  }

  test('Result-Code 5012 UNABLE_TO_COMPLY → 500', async () => {
    state.mode = ResultCode.UNABLE_TO_COMPLY;
    assert.equal((await timed(alice)).status, 500);
  });

  test('a SAR without answer → 504, and no binding is kept', async () => {
    state.mode = 'sar-hang';
    const r = await registerAka(ue, await openIsim(f.dir, alice), alice);
    assert.equal(r.final.msg.status, 504, r.final.text);
    assert.deepEqual(await reg.store.keys('registrar:aor:'), []);
  });
});

describe('DESIGN §2.1: no open peer → 504, recovery, failover', () => {
  const f = registrarFixture({ aka: [alice] });

  test('HSS stopped → 504 at once (at the MAR, or at the SAR after a challenge with a kept vector); HSS back on its port → 200 again', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    try {
      assert.equal((await registerAka(ue, await openIsim(f.dir, alice), alice)).final.msg.status, 200);
      const port = hssPort(f.hss);
      await f.hss.close();
      const t0 = Date.now();
      // The first registration's MAA left spare vectors: the REGISTER is challenged without the HSS, its answer's SAR
      // finds no peer.
      const r = await registerAka(ue, await openIsim(f.dir, alice), alice);
      assert.equal(r.final.msg.status, 504, r.final.text);
      assert.ok(Date.now() - t0 < 2000);
      const bob = await ue.send(registerBytes(ue, { impu: 'sip:nobody@partner.example', callId: callId(), cseq: 1 }));
      assert.equal(bob.msg.status, 504, 'no kept vector: the MAR finds no peer');
      await f.startHss({ port });
      await f.reg.node.waitForPeer({}, 5000);
      // A new HSS store starts its SQNs afresh: a fresh ISIM keeps the test about recovery, not resync.
      assert.equal((await registerAka(ue, await openIsim(f.dir, alice), alice)).final.msg.status, 200);
    } finally {
      ue.close();
    }
  });

  test('two HSS peers: the first down, the second answers (failover)', async () => {
    const backup = await f.startHss();
    const dead = await f.startHss();
    const deadPort = hssPort(dead);
    await dead.close();
    const two = await f.startRegistrar({ originHost: 'registrar2.partner.example' }, [deadPort, hssPort(backup)]);
    const ue = await Ue.udp(sipPort(two, 'UDP'));
    try {
      assert.equal((await registerAka(ue, await openIsim(f.dir, alice), alice)).final.msg.status, 200);
    } finally {
      ue.close();
      await two.close();
    }
  });
});
