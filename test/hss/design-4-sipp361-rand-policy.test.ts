/**
 * DESIGN §4 (SIPp 3.6.1 hashes RES with strlen): under `--rand-policy sipp361` no vector carries a RES with a 0x00
 * octet, and each RAND drawn again for that reason is counted. `uniform` returns what the RNG gives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Milenage } from '../../lib/aka/index.ts';
import { readMaa } from '../../lib/diameter/cx/index.ts';
import { K, OPC, makeHss, mar } from './helpers.ts';

const usim = new Milenage(Buffer.from(K, 'hex'), Buffer.from(OPC, 'hex'));

/** A counter-based RAND sequence (deterministic); `from` picks where it starts. */
function counterRands(from = 0): { next: (n: number) => Buffer; drawn: () => number } {
  let i = from;
  let drawn = 0;
  return {
    next: (n) => {
      drawn++;
      const b = Buffer.alloc(n);
      b.writeUInt32BE(i++, n - 4);
      return b;
    },
    drawn: () => drawn,
  };
}

/** The first counter value whose RAND yields a RES with a 0x00 octet (about 3 % of them do). */
function firstZeroResIndex(): number {
  const src = counterRands();
  for (let i = 0; i < 10000; i++) if (usim.f2345(src.next(16)).res.includes(0)) return i;
  throw new Error('no RES with 0x00 in 10000 RANDs');
}

test('sipp361: a RAND whose RES holds 0x00 is drawn again, counted, and never handed out', async () => {
  const bad = firstZeroResIndex();
  const src = counterRands(bad);
  const hss = await makeHss({ randPolicy: 'sipp361', random: src.next });
  try {
    const maa = readMaa(await hss.cx.mar(mar({ numberAuthItems: 1 })));
    const item = maa.items[0];
    assert.ok(item);
    assert.ok(!(item.authorization as Buffer).includes(0), 'XRES has no 0x00');
    assert.notEqual((item.authenticate as Buffer).subarray(0, 16).readUInt32BE(12), bad, 'the bad RAND was not used');
    assert.ok(hss.ctx.stats.get('sipp361_redraws') >= 1);
    assert.equal(hss.ctx.stats.get('sipp361_redraws'), src.drawn() - 1, 'one redraw per extra RAND drawn');
  } finally {
    await hss.close();
  }
});

test('sipp361: 200 vectors from the real RNG carry no RES with 0x00', async () => {
  const hss = await makeHss({ randPolicy: 'sipp361' });
  try {
    for (let i = 0; i < 40; i++) {
      for (const item of readMaa(await hss.cx.mar(mar({ numberAuthItems: 5 }))).items) {
        assert.ok(!(item.authorization as Buffer).includes(0));
      }
    }
    assert.equal(hss.ctx.stats.get('vectors_issued'), 200);
  } finally {
    await hss.close();
  }
});

test('uniform: the RAND with a 0x00 in RES is used as drawn, nothing counted', async () => {
  const bad = firstZeroResIndex();
  const hss = await makeHss({ random: counterRands(bad).next });
  try {
    const item = readMaa(await hss.cx.mar(mar())).items[0];
    assert.ok((item?.authorization as Buffer).includes(0));
    assert.equal(hss.ctx.stats.get('sipp361_redraws'), 0);
  } finally {
    await hss.close();
  }
});
