/**
 * RFC 3680 / RFC 6665 / TS 24.229 §5.4.2.1 at the registrar (registrar/reg-event.ts), over real UDP and TCP sockets:
 * the registered UE subscribes to its registration state and gets a full `application/reginfo+xml` NOTIFY after the
 * 200; a re-registration notifies `refreshed`, a de-registration `unregistered`, a contact's expiry `expired`, and a
 * Registration-Termination-Request (the end of a migration) `rejected` with the subscription ended
 * (`terminated;reason=rejected`). Only the flow a binding of the AOR was registered from may subscribe (403 otherwise);
 * another package gets 489, an unacceptable Accept 406; `Expires: 0` and the subscription's expiry send the last NOTIFY
 * (`reason=timeout`); a NOTIFY answered 481 ends the subscription; a restarted registrar goes on with the stored ones;
 * tshark's SIP and XML dissectors read the exchange and the reginfo bodies.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ReasonCode, buildRtr, readCxResult } from '../../lib/diameter/cx/index.ts';
import { startCapture, tsharkFields } from '../helpers/tshark.ts';
import {
  DOMAIN, HSS_REALM, Ue, akaUser, callId, headerLines, openIsim, registerAka, registrarFixture, sipPort, type AkaUser,
} from './helpers.ts';
import { contactsOf, notified, registrationsOf, subscribeBytes } from './reg-event.ts';

const [alice, bob, carol, dave, erin, frank, grace, heidi, ivan, judy] = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy'].map(akaUser) as
  [AkaUser, AkaUser, AkaUser, AkaUser, AkaUser, AkaUser, AkaUser, AkaUser, AkaUser, AkaUser];
const users = [alice, bob, carol, dave, erin, frank, grace, heidi, ivan, judy];
const REGISTRAR = `registrar.${DOMAIN}`;
const impuOf = (u: AkaUser): string => u.impus[0] as string;

/** Subscribes `u` from `ue` (already registered there) and takes the first NOTIFY. */
async function subscribe(ue: Ue, u: AkaUser, expires = 600000): Promise<{ callId: string; fromTag: string; toTag: string; first: Awaited<ReturnType<typeof notified>> }> {
  const id = callId();
  const fromTag = randomBytes(4).toString('hex');
  const ok = await ue.send(subscribeBytes(ue, impuOf(u), { callId: id, cseq: 1, fromTag, expires }));
  assert.equal(ok.msg.status, 200, ok.text);
  return { callId: id, fromTag, toTag: ok.msg.to().tag as string, first: await notified(ue) };
}

describe('RFC 3680: the registrar notifies the reg event package', () => {
  const f = registrarFixture({ aka: users });

  test('SUBSCRIBE from the registered UE → 200 with Expires and a To tag, then a full reginfo NOTIFY on the dialog (§4.2, §5)', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    try {
      assert.equal((await registerAka(ue, await openIsim(f.dir, alice), alice)).final.msg.status, 200);
      const id = callId();
      const ok = await ue.send(subscribeBytes(ue, impuOf(alice), { callId: id, cseq: 1, fromTag: 'sub1' }));
      assert.equal(ok.text.split('\r\n')[0], 'SIP/2.0 200 OK');
      assert.deepEqual(headerLines(ok.text, 'Expires'), ['3761'], 'capped at max(the longest registration, 3761 s)');
      const toTag = ok.msg.to().tag;
      assert.ok(toTag, 'the 200 gives the dialog its To tag');
      assert.match(headerLines(ok.text, 'Contact')[0] ?? '', /^<sip:/);
      const { n, state, body, cseq } = await notified(ue);
      assert.equal(n.text.split('\r\n')[0], `NOTIFY sip:ue@127.0.0.1:${ue.localPort};transport=udp SIP/2.0`, 'Request-URI: the SUBSCRIBE\'s Contact');
      assert.equal(n.msg.callId(), id);
      assert.equal(n.msg.from().tag, toTag, 'From carries our tag');
      assert.equal(n.msg.to().tag, 'sub1', 'To carries the subscriber\'s tag');
      assert.equal(n.msg.from().uri.raw, impuOf(alice));
      assert.deepEqual(headerLines(n.text, 'Event'), ['reg']);
      assert.match(state, /^active;expires=37(6[01]|59)$/);
      assert.deepEqual(headerLines(n.text, 'Content-Type'), ['application/reginfo+xml']);
      assert.equal(cseq, 1);
      assert.match(body, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="full">/);
      assert.match(body, new RegExp(`<registration aor="${impuOf(alice)}" id="[0-9a-f]{16}" state="active">`));
      // TS 24.229 §5.4.2.1.2: a <registration> per identity of the implicit set (the profile's tel URI too), the same
      // contact under each with its own id (RFC 3680 §5.3.2: unique in the document).
      const regs = registrationsOf(body);
      assert.deepEqual(regs.map((r) => [r.aor, r.state, r.contacts.length]), alice.impus.map((u) => [u, 'active', 1]));
      assert.notEqual(regs[0]?.contacts[0]?.id, regs[1]?.contacts[0]?.id);
      assert.notEqual(regs[0]?.id, regs[1]?.id);
      const [c] = contactsOf(body);
      assert.equal(c?.state, 'active');
      assert.equal(c?.event, 'registered');
      assert.equal(c?.uri, `sip:ue@127.0.0.1:${ue.localPort};transport=udp`);
      assert.ok(Number(c?.expires) > 3500 && Number(c?.expires) <= 3600, `expires ${c?.expires}`);
      assert.equal(f.reg.stats.get('reg_subscriptions') >= 1, true);
    } finally {
      ue.close();
    }
  });

  test('re-registration → refreshed (version 1); de-registration → unregistered, registration and subscription terminated', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    const isim = await openIsim(f.dir, bob);
    try {
      const reg = await registerAka(ue, isim, bob, { expires: 600 });
      assert.equal(reg.final.msg.status, 200);
      const s = await subscribe(ue, bob);
      const before = contactsOf(s.first.body)[0];
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal((await registerAka(ue, isim, bob, { expires: 900 })).final.msg.status, 200);
      const refreshed = await notified(ue);
      assert.match(refreshed.body, /version="1"/);
      assert.equal(refreshed.cseq, s.first.cseq + 1);
      const c = contactsOf(refreshed.body)[0];
      assert.equal(c?.event, 'refreshed');
      assert.equal(c?.id, before?.id, 'the same contact keeps its id (§5.3.2)');
      assert.match(refreshed.state, /^active;/);
      assert.equal((await registerAka(ue, isim, bob, { expires: 0 })).final.msg.status, 200);
      const gone = await notified(ue);
      assert.match(gone.body, /version="2"/);
      assert.match(gone.body, /<registration [^>]*state="terminated">/);
      assert.deepEqual(contactsOf(gone.body).map((x) => [x.state, x.event]), [['terminated', 'unregistered']]);
      assert.equal(gone.state, 'terminated;reason=noresource', 'TS 24.229 §5.4.2.1.2: no registration left ends the subscription');
      const refresh = await ue.send(subscribeBytes(ue, impuOf(bob), { callId: s.callId, cseq: 2, fromTag: s.fromTag, toTag: s.toTag }));
      assert.equal(refresh.msg.status, 481, 'the subscription is gone');
    } finally {
      ue.close();
    }
  });

  test('Registration-Termination-Request (migration ended) → contact rejected, Subscription-State terminated;reason=rejected', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    try {
      assert.equal((await registerAka(ue, await openIsim(f.dir, carol), carol)).final.msg.status, 200);
      const s = await subscribe(ue, carol);
      const node = f.hss.node;
      const rta = await node.request(buildRtr({
        sessionId: `hss.${HSS_REALM};reg-event;1`, originHost: node.originHost, originRealm: node.originRealm, destinationHost: REGISTRAR,
        destinationRealm: DOMAIN, userName: carol.impi, publicIdentities: [impuOf(carol)], reasonCode: ReasonCode.PERMANENT_TERMINATION,
        reasonInfo: 'migration ended',
      }), { host: REGISTRAR, timeoutMs: 2000 });
      assert.equal(readCxResult(rta).resultCode, 2001);
      const n = await notified(ue);
      assert.equal(n.cseq, s.first.cseq + 1);
      assert.equal(n.state, 'terminated;reason=rejected');
      assert.deepEqual(registrationsOf(n.body).map((r) => [r.aor, r.state, r.contacts.map((x) => `${x.state} ${x.event}`).join()]),
        carol.impus.map((u) => [u, 'terminated', 'terminated rejected']), 'every identity of the set ends');
    } finally {
      ue.close();
    }
  });

  test('only the registered flow may subscribe: another port → 403; another package → 489 with Allow-Events; Accept without reginfo → 406; no Event → 400', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    const stranger = await Ue.udp(sipPort(f.reg, 'UDP'));
    try {
      assert.equal((await registerAka(ue, await openIsim(f.dir, dave), dave)).final.msg.status, 200);
      const o = { callId: callId(), cseq: 1, fromTag: 'x1' };
      const forbidden = await stranger.send(subscribeBytes(stranger, impuOf(dave), o));
      assert.equal(forbidden.msg.status, 403);
      assert.equal((await stranger.send(subscribeBytes(stranger, impuOf(frank), { ...o, callId: callId() }))).msg.status, 403, 'an AOR without bindings');
      const other = await ue.send(subscribeBytes(ue, impuOf(dave), { ...o, callId: callId(), event: 'presence' }));
      assert.equal(other.msg.status, 489);
      assert.deepEqual(headerLines(other.text, 'Allow-Events'), ['reg']);
      const accept = await ue.send(subscribeBytes(ue, impuOf(dave), { ...o, callId: callId(), extra: ['Accept: application/pidf+xml'] }));
      assert.equal(accept.msg.status, 406);
      assert.equal((await ue.send(subscribeBytes(ue, impuOf(dave), { ...o, callId: callId(), event: null }))).msg.status, 400);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(ue.requestsPending + stranger.requestsPending, 0, 'no NOTIFY for a refused SUBSCRIBE');
    } finally {
      ue.close();
      stranger.close();
    }
  });

  test('in-dialog Expires: 0 → 200 and the last NOTIFY (terminated;reason=timeout); a later REGISTER notifies nobody', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    const isim = await openIsim(f.dir, erin);
    try {
      assert.equal((await registerAka(ue, isim, erin)).final.msg.status, 200);
      const s = await subscribe(ue, erin);
      const bye = await ue.send(subscribeBytes(ue, impuOf(erin), { callId: s.callId, cseq: 2, fromTag: s.fromTag, toTag: s.toTag, expires: 0 }));
      assert.equal(bye.msg.status, 200);
      assert.deepEqual(headerLines(bye.text, 'Expires'), ['0']);
      const last = await notified(ue);
      assert.equal(last.state, 'terminated;reason=timeout');
      assert.equal(last.cseq, s.first.cseq + 1);
      assert.equal((await registerAka(ue, isim, erin)).final.msg.status, 200);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(ue.requestsPending, 0);
      const stale = await ue.send(subscribeBytes(ue, impuOf(erin), { callId: s.callId, cseq: 3, fromTag: s.fromTag, toTag: s.toTag }));
      assert.equal(stale.msg.status, 481);
    } finally {
      ue.close();
    }
  });

  test('a contact that runs out → expired; a subscription that runs out → its last NOTIFY with reason=timeout', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    try {
      assert.equal((await registerAka(ue, await openIsim(f.dir, frank), frank, { expires: 2 })).final.msg.status, 200);
      await subscribe(ue, frank);
      const expired = await notified(ue);
      assert.deepEqual(contactsOf(expired.body).map((x) => [x.state, x.event]), [['terminated', 'expired']]);
      assert.equal(expired.state, 'terminated;reason=noresource');

      assert.equal((await registerAka(ue, await openIsim(f.dir, frank), frank, { expires: 600 })).final.msg.status, 200);
      const short = await subscribe(ue, frank, 1);
      assert.match(short.first.state, /^active;expires=1$/);
      const timeout = await notified(ue);
      assert.equal(timeout.state, 'terminated;reason=timeout');
      assert.equal(timeout.cseq, short.first.cseq + 1);
    } finally {
      ue.close();
    }
  });

  test('a NOTIFY answered 481 ends the subscription (RFC 6665 §4.2.2); over TCP the NOTIFY comes on the SUBSCRIBE\'s connection', async () => {
    const ue = await Ue.stream(sipPort(f.reg, 'TCP'));
    const isim = await openIsim(f.dir, grace);
    try {
      assert.equal((await registerAka(ue, isim, grace)).final.msg.status, 200);
      const s = await subscribe(ue, grace);
      assert.equal(s.first.n.text.split('\r\n')[0], `NOTIFY sip:ue@127.0.0.1:${ue.localPort};transport=tcp SIP/2.0`);
      const failures = f.reg.stats.get('reg_notify_failures');
      assert.equal((await registerAka(ue, isim, grace)).final.msg.status, 200);
      await notified(ue, 481);
      for (let i = 0; i < 50 && f.reg.stats.get('reg_notify_failures') === failures; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(f.reg.stats.get('reg_notify_failures'), failures + 1);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await registerAka(ue, isim, grace)).final.msg.status, 200);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(ue.requestsPending, 0, 'nobody subscribed any more');
    } finally {
      ue.close();
    }
  });

  test('a restarted registrar keeps the subscriptions of its store: the contact that runs out while it was down is notified expired', async () => {
    const stateDir = join(f.dir, 'reg-event-restart');
    const first = await f.startRegistrar({ stateDir });
    const ue = await Ue.udp(sipPort(first, 'UDP'));
    try {
      assert.equal((await registerAka(ue, await openIsim(f.dir, heidi), heidi, { expires: 3 })).final.msg.status, 200);
      const s = await subscribe(ue, heidi);
      await first.close();
      await f.startRegistrar({ stateDir });
      const expired = await notified(ue, 200);
      assert.equal(expired.n.msg.callId(), s.callId);
      assert.equal(expired.cseq, s.first.cseq + 1, 'the CSeq goes on from the stored dialog');
      assert.match(expired.body, /version="1"/);
      assert.deepEqual(contactsOf(expired.body).map((x) => [x.state, x.event]), [['terminated', 'expired']]);
    } finally {
      ue.close();
    }
  });

  test('tshark reads the SUBSCRIBE, its 200 and each NOTIFY as SIP, and its reginfo dissector (the RFC 3680 DTD) each body, nothing malformed', async () => {
    const port = sipPort(f.reg, 'UDP');
    const capture = await startCapture(`udp port ${port}`);
    const ue = await Ue.udp(port);
    const isim = await openIsim(f.dir, ivan);
    try {
      assert.equal((await registerAka(ue, isim, ivan)).final.msg.status, 200);
      await subscribe(ue, ivan);
      assert.equal((await registerAka(ue, isim, ivan, { expires: 0 })).final.msg.status, 200);
      await notified(ue);
      await capture.stop();
      const rows = await tsharkFields(capture.file, port, 'sip', [
        'sip.Method', 'sip.Status-Code', 'sip.CSeq.method', 'sip.Event', 'sip.Subscription-State', 'reginfo.version', 'reginfo.state',
        'reginfo.registration.aor', 'reginfo.registration.state', 'reginfo.registration.contact.state', 'reginfo.registration.contact.event',
        'reginfo.registration.contact.uri', '_ws.malformed',
      ], 'udp');
      const subs = rows.filter((r) => r[2] === 'SUBSCRIBE' || r[2] === 'NOTIFY');
      const seen = [...new Set(subs.map((r) => `${r[0] || r[1]} ${r[2]}`))];
      assert.deepEqual(seen, ['SUBSCRIBE SUBSCRIBE', '200 SUBSCRIBE', 'NOTIFY NOTIFY', '200 NOTIFY']);
      // Wireshark's reginfo dissector (the RFC 3680 DTD) reads each NOTIFY body field by field.
      const contact = `sip:ue@127.0.0.1:${ue.localPort};transport=udp`;
      const notifies = [...new Set(subs.filter((r) => r[0] === 'NOTIFY').map((r) => [r[3], r[4]?.replace(/expires=\d+/, 'expires=N'), ...r.slice(5, 12)].join(' ')))];
      const set = ivan.impus.join(',');
      const twice = (v: string): string => `${v},${v}`;
      assert.deepEqual(notifies, [
        `reg active;expires=N 0 full ${set} ${twice('active')} ${twice('active')} ${twice('registered')} ${twice(`<uri>,${contact}`)}`,
        `reg terminated;reason=noresource 1 full ${set} ${twice('terminated')} ${twice('terminated')} ${twice('unregistered')} ${twice(`<uri>,${contact}`)}`,
      ]);
      assert.ok(rows.every((r) => (r[12] ?? '') === ''), 'no malformed packet');
    } finally {
      ue.close();
      await capture.stop();
      capture.remove();
    }
  });

  test('the dialog as RFC 6665 §8.2.1 and RFC 3261 §12 make it: Event id echoed, Record-Route copied into the 200 and used as Route; a NOTIFY refused for its transaction only (500) keeps the subscription', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    const isim = await openIsim(f.dir, judy);
    try {
      assert.equal((await registerAka(ue, isim, judy)).final.msg.status, 200);
      const rr = ['<sip:pcscf.partner.example;lr>', '<sip:edge.partner.example;lr>'];
      const ok = await ue.send(subscribeBytes(ue, impuOf(judy), {
        callId: callId(), cseq: 1, fromTag: 'j1', event: 'reg;id=7', extra: ['Accept: application/reginfo+xml', ...rr.map((r) => `Record-Route: ${r}`)],
      }));
      assert.equal(ok.msg.status, 200);
      assert.deepEqual(headerLines(ok.text, 'Record-Route'), rr, 'RFC 3261 §12.1.1: the 2xx copies Record-Route');
      const first = await notified(ue, 500);
      assert.deepEqual(headerLines(first.n.text, 'Event'), ['reg;id=7']);
      assert.deepEqual(headerLines(first.n.text, 'Route'), rr, 'the route set, in order (RFC 3261 §12.1.1: UAS side)');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await registerAka(ue, isim, judy)).final.msg.status, 200);
      const again = await notified(ue);
      assert.equal(again.cseq, first.cseq + 1, 'still subscribed after the 500 (RFC 5057: it ended the transaction, not the usage)');
      assert.match(again.state, /^active;/);
    } finally {
      ue.close();
    }
  });
});
