/**
 * RFC 3261 §10.3 (processing REGISTER) and DESIGN §2.1 bindings: several contacts, re-registration (SAR
 * RE_REGISTRATION), `Expires: 0` for one contact, `Contact: *` with `Expires: 0` (SAR USER_DEREGISTRATION when the
 * last binding goes), `Contact: *` without `Expires: 0` → 400, `423 Interval Too Brief` + `Min-Expires` (before any
 * vector is spent), expiries above the maximum shortened, expiry of bindings, a query REGISTER, and an out-of-order
 * CSeq → 500. The registrar reads binding expiry from a manual clock (test/helpers/clock.ts), so expiry is checked at
 * its millisecond instead of waited for.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Isim } from '../../ue-client/isim.ts';
import { ManualClock } from '../helpers/clock.ts';
import {
  Ue, akaUser, callId, headerLines, openIsim, registerAka, registerBytes, registrarFixture, sipPort, type AkaUser,
} from './helpers.ts';

const users = Array.from({ length: 6 }, (_, i) => akaUser(`b${i}`));
const user = (i: number): AkaUser => users[i] as AkaUser;

describe('RFC 3261 §10.3: bindings', () => {
  const clock = new ManualClock(Date.now());
  const f = registrarFixture({ aka: users, registrar: { minExpires: 2, maxExpires: 3600, now: clock.now } });
  let ue: Ue;
  const isims = new Map<string, Isim>();
  const isim = async (u: AkaUser): Promise<Isim> => {
    let i = isims.get(u.impi);
    if (!i) isims.set(u.impi, (i = await openIsim(f.dir, u)));
    return i;
  };

  before(async () => {
    ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    f.onTeardown(() => ue.close());
  });

  const c1 = '<sip:one@192.0.2.1:5060>';
  const c2 = '<sip:two@192.0.2.2:5060;transport=tcp>';

  test('several contacts in one REGISTER, each listed with its expires; then re-registration (RE_REGISTRATION)', async () => {
    const u = user(0);
    const id = callId();
    const r = await registerAka(ue, await isim(u), u, { callId: id, contacts: [`${c1};expires=300`, c2], expires: 900 });
    assert.equal(r.final.msg.status, 200, r.final.text);
    assert.deepEqual(headerLines(r.final.text, 'Contact'), [`${c1};expires=300`, `${c2};expires=900`]);
    assert.equal((await f.hss.ctx.serving.get(u.impi)).state, 'registered');
    const again = await registerAka(ue, await isim(u), u, { callId: id, cseq: 3, contacts: [c1], expires: 1200 });
    assert.equal(again.final.msg.status, 200);
    assert.deepEqual(headerLines(again.final.text, 'Contact'), [`${c2};expires=900`, `${c1};expires=1200`]);
  });

  test('Expires: 0 on one contact removes that binding only; Contact: * + Expires: 0 removes the rest (USER_DEREGISTRATION)', async () => {
    const u = user(1);
    const id = callId();
    assert.equal((await registerAka(ue, await isim(u), u, { callId: id, contacts: [c1, c2], expires: 600 })).final.msg.status, 200);
    const one = await registerAka(ue, await isim(u), u, { callId: id, cseq: 3, contacts: [`${c1};expires=0`] });
    assert.equal(one.final.msg.status, 200);
    assert.deepEqual(headerLines(one.final.text, 'Contact'), [`${c2};expires=600`]);
    assert.equal((await f.hss.ctx.serving.get(u.impi)).state, 'registered');
    const all = await registerAka(ue, await isim(u), u, { callId: id, cseq: 5, contacts: ['*'], expires: 0 });
    assert.equal(all.final.msg.status, 200, all.final.text);
    assert.deepEqual(headerLines(all.final.text, 'Contact'), []);
    assert.equal((await f.hss.ctx.serving.get(u.impi)).state, 'not_registered', 'SAR USER_DEREGISTRATION cleared the HSS state');
    assert.equal(await f.reg.store.get(`registrar:aor:${u.impus[0]}`), undefined);
  });

  test('Expires: 0 on the only contact de-registers (USER_DEREGISTRATION)', async () => {
    const u = user(2);
    const id = callId();
    assert.equal((await registerAka(ue, await isim(u), u, { callId: id, contacts: [c1] })).final.msg.status, 200);
    const off = await registerAka(ue, await isim(u), u, { callId: id, cseq: 3, contacts: [c1], expires: 0 });
    assert.equal(off.final.msg.status, 200);
    assert.deepEqual(headerLines(off.final.text, 'Contact'), []);
    assert.equal((await f.hss.ctx.serving.get(u.impi)).state, 'not_registered');
  });

  test('Contact: * without Expires: 0 → 400, before any challenge', async () => {
    const u = user(3);
    const r = await ue.send(registerBytes(ue, { impu: u.impus[0] as string, callId: callId(), cseq: 1, contacts: ['*'], expires: 60 }));
    assert.equal(r.text.split('\r\n')[0], 'SIP/2.0 400 Contact * Requires Expires: 0');
  });

  test('an expiry below Min-Expires → 423 with Min-Expires, before any challenge', async () => {
    const u = user(3);
    const r = await ue.send(registerBytes(ue, { impu: u.impus[0] as string, callId: callId(), cseq: 1, contacts: [`${c1};expires=1`] }));
    assert.equal(r.text.split('\r\n')[0], 'SIP/2.0 423 Interval Too Brief');
    assert.deepEqual(headerLines(r.text, 'Min-Expires'), ['2']);
    assert.deepEqual(headerLines(r.text, 'WWW-Authenticate'), []);
  });

  test('an expiry above the maximum is shortened (24.229 UEs propose 600000)', async () => {
    const u = user(3);
    const r = await registerAka(ue, await isim(u), u, { contacts: [c1], expires: 600000 });
    assert.deepEqual(headerLines(r.final.text, 'Contact'), [`${c1};expires=3600`]);
  });

  test('bindings expire: after their time a query REGISTER lists none', async () => {
    const u = user(4);
    const id = callId();
    const r = await registerAka(ue, await isim(u), u, { callId: id, contacts: [c1], expires: 2 });
    assert.deepEqual(headerLines(r.final.text, 'Contact'), [`${c1};expires=2`]);
    const live = await registerAka(ue, await isim(u), u, { callId: id, cseq: 3, contacts: [] });
    assert.equal(headerLines(live.final.text, 'Contact').length, 1, 'a query lists the live binding');
    clock.advance(1999);
    const last = await registerAka(ue, await isim(u), u, { callId: id, cseq: 4, contacts: [] });
    assert.deepEqual(headerLines(last.final.text, 'Contact'), [`${c1};expires=1`], '1 ms before its time: still there');
    clock.advance(1);
    const gone = await registerAka(ue, await isim(u), u, { callId: id, cseq: 5, contacts: [] });
    assert.equal(gone.final.msg.status, 200);
    assert.deepEqual(headerLines(gone.final.text, 'Contact'), []);
  });

  test('a REGISTER whose CSeq is not above the binding of the same Call-ID → 500, binding unchanged', async () => {
    const u = user(5);
    const id = callId();
    assert.equal((await registerAka(ue, await isim(u), u, { callId: id, cseq: 10, contacts: [c1], expires: 600 })).final.msg.status, 200);
    const old = await registerAka(ue, await isim(u), u, { callId: id, cseq: 3, contacts: [c1], expires: 0 });
    assert.equal(old.final.msg.status, 500, old.final.text);
    const q = await registerAka(ue, await isim(u), u, { callId: id, cseq: 20, contacts: [] });
    assert.equal(headerLines(q.final.text, 'Contact').length, 1);
  });
});
