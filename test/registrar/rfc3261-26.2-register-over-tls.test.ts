/**
 * RFC 3261 §26.2.1 / §18 and DESIGN §2.1 ("REGISTER over UDP, TCP and TLS"): a plain AKA REGISTER (no sec-agree) over
 * TLS from a Node `tls` client that verifies the registrar's certificate — the partner CA from `initPki` as its only
 * trust anchor, servername `registrar.<realm>` — gets 401, then 200 on the same connection. The verification is real:
 * another name, or another system's CA, fails the handshake.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DOMAIN, Ue, akaUser, headerLines, openIsim, registerAka, registrarFixture, sipPort } from './helpers.ts';

const alice = akaUser('alice');
const SERVERNAME = `registrar.${DOMAIN}`;

describe('RFC 3261 §26.2: REGISTER over TLS with a verified registrar certificate', () => {
  const f = registrarFixture({
    aka: [alice], pki: ['partner', 'primary'],
    registrar: (x) => ({ sip: [{ transport: 'tls', host: '127.0.0.1', port: 0 }], tls: x.tlsFiles('partner', 'registrar') }),
  });

  test(`a Node tls client verifying ${SERVERNAME} against the partner CA: REGISTER → 401, REGISTER with RES → 200`, async () => {
    const ue = await Ue.stream(sipPort(f.reg, 'TLS'), { ca: f.caPem('partner'), servername: SERVERNAME });
    try {
      assert.equal(ue.tlsPeer?.authorized, true);
      assert.equal(ue.tlsPeer?.certificate.subject.CN, SERVERNAME);
      const r = await registerAka(ue, await openIsim(f.dir, alice), alice);
      assert.equal(r.challenge.text.split('\r\n')[0], 'SIP/2.0 401 Unauthorized');
      assert.deepEqual(headerLines(r.challenge.text, 'Security-Server'), [], 'no sec-agree was asked for');
      assert.equal(r.final.text.split('\r\n')[0], 'SIP/2.0 200 OK', r.final.text);
      assert.match(headerLines(r.final.text, 'Contact')[0] ?? '', new RegExp(`^<sip:ue@127\\.0\\.0\\.1:${ue.localPort};transport=tls>;expires=\\d+$`));
      const bound = await f.reg.store.get<{ bindings: Array<{ source: string }> }>(`registrar:aor:${alice.impus[0]}`);
      assert.equal(bound?.bindings[0]?.source, `TLS 127.0.0.1:${ue.localPort}`);
    } finally {
      ue.close();
    }
  });

  test('the client refuses the registrar under another name (ERR_TLS_CERT_ALTNAME_INVALID)', async () => {
    await assert.rejects(Ue.stream(sipPort(f.reg, 'TLS'), { ca: f.caPem('partner'), servername: 'registrar.elsewhere.example' }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  test('the client refuses the registrar when only another system\'s CA is trusted', async () => {
    await assert.rejects(Ue.stream(sipPort(f.reg, 'TLS'), { ca: f.caPem('primary'), servername: SERVERNAME }), (e: NodeJS.ErrnoException) => {
      assert.match(e.code ?? '', /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN|CERT_SIGNATURE_FAILURE)$/);
      return true;
    });
  });
});
