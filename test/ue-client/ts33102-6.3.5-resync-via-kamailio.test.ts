/**
 * TS 33.102 §6.3.5 / RFC 3310 §3.4, UE side, through a registrar that is not ours: a UE whose ISIM has SEQ_MS far
 * ahead of our HSS (every IND slot at SEQ 1000) registers through Kamailio's S-CSCF and resynchronises by itself:
 * REGISTER → 401 (ISIM: SQN not acceptable) → REGISTER auts → 401 (fresh nonce) → REGISTER auth → 200, all on the
 * ladder with the §10.6.2.3 step numbers. The auts REGISTER answers over the empty password and the HSS continues
 * at SEQ(SQN_MS)+1, so the second challenge is fresh to the ISIM.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Milenage, generateVector, makeSqn, seqOf } from '../../lib/aka/index.ts';
import { Isim } from '../../ue-client/isim.ts';
import { ladderShape, runUe, startKamailioNet, subscriber, subscribersCsv, tempDir, ueFlags, withIsim, type KamailioNet } from './fixture.ts';

const REALM = 'ims.mcx.test';
const ahead = subscriber('ahead', REALM);
const SEQ_AHEAD = 1000n;

describe('TS 33.102 §6.3.5: a UE ahead of the HSS resynchronises automatically through Kamailio', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let net: KamailioNet;

  before(async () => {
    tmp = await tempDir('mcx-ue-resync-');
    net = await startKamailioNet(tmp.dir, REALM, subscribersCsv([ahead]));
  });
  after(async () => {
    await net?.close();
    await tmp?.remove();
  });

  test('401 → REGISTER auts → 401 → REGISTER → 200, visible in the ladder; SQN_MS ends above SEQ 1000', async () => {
    const file = join(tmp.dir, 'ahead.json');
    const k = Buffer.from(ahead.k, 'hex');
    const op = Buffer.from(ahead.op, 'hex');
    const isim = await Isim.open(file, { k, op, impi: ahead.impi, impus: [ahead.impu], domain: REALM });
    // Freshness is per IND slot (Annex C.2.2), so every slot is moved ahead, as a UE used elsewhere would be.
    const he = Milenage.fromOp(k, op);
    for (let ind = 0; ind < 32; ind++) {
      const v = generateVector({ milenage: he, sqn: makeSqn(SEQ_AHEAD, ind), amf: Buffer.from(ahead.amf, 'hex') });
      assert.ok(!('syncFailure' in (await isim.authenticate(v.rand, v.autn))));
    }
    // Closed before the UE opens the file: one holder at a time.
    await isim.close();

    const r = await runUe(ueFlags(ahead, REALM, `127.0.0.1:${net.sipPort}`, file, { flow: 'dynamic', expires: 600 }));
    assert.equal(r.status, 0, `${r.out.join('\n')}\n${r.err.join('\n')}${net.diag()}`);
    assert.deepEqual(ladderShape(r.ladder).slice(0, 7), [
      '→ REGISTER 2', '← 401 11', '→ REGISTER auts 12', '← 401 11', '→ REGISTER auth 12', '← 200 13', 'registered 14',
    ]);
    assert.match(r.ladder[1] ?? '', /ISIM: SQN not acceptable \(replay\) → auts/);
    assert.match(r.ladder[3] ?? '', /ISIM: RES/);
    assert.match(r.out.find((l) => l.startsWith('registered: ')) ?? '', / resynchronised/);
    const sqnMs = BigInt(`0x${(await withIsim(file, (i) => i.toJSON())).sqnMs}`);
    assert.ok(seqOf(sqnMs) > SEQ_AHEAD, `the HSS continued above SEQ_MS (SEQ now ${seqOf(sqnMs)})`);
  });
});
