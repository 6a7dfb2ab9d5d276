/**
 * RFC 6733 §13 / DESIGN §2.6 for the registrar's Cx link: with `diameterTls` the registrar reaches its HSS peer over
 * mutual TLS with the certs/ PKI, and an AKA registration completes across it. Both are of one system here: across
 * systems only MMS certificates are admitted (DESIGN §2.7), so a partner registrar reaches a primary HSS only through
 * the partner MMS (test/security covers the refusal).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HSS_REALM, Ue, akaUser, openIsim, registerAka, registrarFixture, sipPort } from './helpers.ts';

const alice = akaUser('alice');

describe('RFC 6733 §13: registrar ↔ HSS over mutual TLS', () => {
  const f = registrarFixture({
    aka: [alice], pki: ['primary'], hss: (x) => ({ tls: x.tlsFiles('primary', 'hss') }),
    registrar: (x) => ({ diameterTls: true, tls: x.tlsFiles('primary', 'registrar'), originHost: `registrar.${HSS_REALM}`, realm: HSS_REALM }),
  });

  test('the Cx link is TLS and a registration completes', async () => {
    assert.match(f.hss.diameterUrl, /^tls:\/\//);
    await f.reg.node.waitForPeer({ originHost: `hss.${HSS_REALM}` }, 5000);
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    try {
      assert.equal((await registerAka(ue, await openIsim(f.dir, alice), alice)).final.msg.status, 200);
    } finally {
      ue.close();
    }
  });
});
