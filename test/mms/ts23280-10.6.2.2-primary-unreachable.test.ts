/**
 * DESIGN §2.2 error mapping of the translation agent on live processes: the primary HSS down (its process stopped)
 * → Result-Code 3002 DIAMETER_UNABLE_TO_DELIVER with the E bit at the registrar within 1.5 s; an HSS that takes the
 * request but does not answer within 1 s → 3002 as well, after the agents' 1 s; and recovery once the HSS process
 * is back on the same port (the relay reconnects, the next MAR gets vectors).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { ResultCode } from '../../lib/diameter/constants.ts';
import { CX_APPLICATION_ID, CxCommand, cxErrorAnswer, readCxResult, readMaa } from '../../lib/diameter/cx/index.ts';
import { CX_APPLICATION, DiameterNode } from '../../lib/diameter/node.ts';
import type { TwoSystemTestbed } from '../../deploy/testbed-builder.ts';
import { PRIMARY_REALM, USIM, mar, registrarClient, staticTestbed, waitForLines, type Role } from './testbed.ts';
import { openAutn } from '../../lib/aka/index.ts';

const HSS_HOST = `hss.${PRIMARY_REALM}`;

describe('TS 23.280 §10.6.2.2 with the primary unreachable: 3002 toward the registrar, recovery when the HSS returns', () => {
  let tb: TwoSystemTestbed;
  let hss: Role;
  let relay: Role;
  let mms: Role;
  let registrar: DiameterNode;
  let slowHss: DiameterNode | undefined;

  /** One MAR; the answer and how long it took. */
  async function timedMar(): Promise<{ answer: DiameterMessage; ms: number }> {
    const t0 = performance.now();
    const answer = await registrar.request(mar(), { timeoutMs: 5000 });
    return { answer, ms: performance.now() - t0 };
  }

  before(async () => {
    tb = await staticTestbed('mms-unreachable');
    hss = await tb.hss();
    relay = await tb.relay({ upstream: hss.port });
    mms = await tb.partnerMms({ upstream: relay.port });
    registrar = await registrarClient(tb, mms.port);
    await registrar.waitForPeer({ originHost: 'mms.partner.example' }, 10_000);
    await mms.waitFor(/route to primary\.example: relay\.primary\.example/, 10_000);
    assert.deepEqual(readCxResult(await registrar.request(mar(), { timeoutMs: 3000 })), { resultCode: 2001 });
  });
  after(async () => {
    await slowHss?.close();
    await tb?.close();
  });

  test('HSS process stopped → 3002 with the E bit within 1.5 s (the relay has no peer toward the HSS)', async () => {
    assert.equal(await hss.stop('SIGTERM'), 0);
    await relay.waitFor(/DPR received, DPA sent/, 5000);
    const { answer, ms } = await timedMar();
    assert.deepEqual(readCxResult(answer), { resultCode: ResultCode.UNABLE_TO_DELIVER });
    assert.equal(answer.flags.error, true);
    assert.ok(ms < 1500, `answered after ${Math.round(ms)} ms`);
    await waitForLines(relay, (l) => /not delivered: Result-Code 3002/.test(String(l.msg)));
  });

  test('an HSS that does not answer within 1 s → 3002 after the agents\' 1 s, within 1.5 s', async () => {
    // Stands in on the HSS's port and identity, and answers too late.
    slowHss = new DiameterNode({ originHost: HSS_HOST, originRealm: PRIMARY_REALM, applications: [CX_APPLICATION] });
    slowHss.handle(CX_APPLICATION_ID, CxCommand.MAR, async (req) => {
      await new Promise((r) => setTimeout(r, 1600));
      return cxErrorAnswer(req, { resultCode: ResultCode.UNABLE_TO_COMPLY }, { originHost: HSS_HOST, originRealm: PRIMARY_REALM });
    });
    await slowHss.listen({ host: '127.0.0.1', port: hss.port });
    await slowHss.waitForPeer({ originHost: `relay.${PRIMARY_REALM}` }, 10_000);
    try {
      const { answer, ms } = await timedMar();
      assert.deepEqual(readCxResult(answer), { resultCode: ResultCode.UNABLE_TO_DELIVER });
      assert.equal(answer.flags.error, true);
      assert.ok(ms >= 950 && ms < 1500, `answered after ${Math.round(ms)} ms`);
      // Both agents wait 1 s: the MMS's own timeout or the relay's 3002 may come first, each a correct outcome.
      await waitForLines(mms, (l) => /translation failed: primary unreachable/.test(String(l.msg)) || (l.step === 8 && l.resultCode === 3002));
    } finally {
      await slowHss.close();
      slowHss = undefined;
    }
  });

  test('HSS restarted on the same port: the relay reconnects and the next MAR gets vectors', async () => {
    hss = await tb.hss({ port: hss.port });
    const deadline = Date.now() + 15_000;
    let answer: DiameterMessage;
    for (;;) {
      answer = (await timedMar()).answer;
      if (readCxResult(answer).resultCode === 2001 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(readCxResult(answer), { resultCode: 2001 });
    const ra = readMaa(answer).items[0]?.authenticate as Buffer;
    assert.ok(openAutn(USIM, ra.subarray(0, 16), ra.subarray(16)).macValid);
  });
});
