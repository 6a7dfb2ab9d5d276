/**
 * RFC 6733 §13 / DESIGN §2.6 for the registrar's Cx link: with `diameterTls` the registrar reaches its HSS peer over
 * mutual TLS with the certs/ PKI, and an AKA registration completes across it. Both are of one system here: across
 * systems only MMS certificates are admitted (DESIGN §2.7), so a partner registrar reaches a primary HSS only through
 * the partner MMS (test/security covers the refusal).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { initPki } from '../../certs/issue.ts';
import { certPaths } from '../../certs/layout.ts';
import type { RunningHss } from '../../hss/run.ts';
import type { RunningRegistrar } from '../../registrar/server.ts';
import { HSS_REALM, Ue, akaUser, hssPort, openIsim, registerAka, sipPort, startTestHss, startTestRegistrar, subscribersCsv, tempDir } from './helpers.ts';

const alice = akaUser('alice');

describe('RFC 6733 §13: registrar ↔ HSS over mutual TLS', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let hss: RunningHss;
  let reg: RunningRegistrar;

  before(async () => {
    tmp = await tempDir();
    const pki = join(tmp.dir, 'pki');
    await initPki({ dir: pki, systems: [{ name: 'primary', realm: HSS_REALM }] });
    const h = certPaths(pki, 'primary', 'hss');
    const r = certPaths(pki, 'primary', 'registrar');
    hss = await startTestHss(tmp.dir, subscribersCsv([alice]), { tls: { cert: h.cert, key: h.key, ca: [h.ca] } });
    reg = await startTestRegistrar(tmp.dir, [hssPort(hss)], {
      diameterTls: true, tls: { cert: r.cert, key: r.key, ca: [r.ca] }, originHost: `registrar.${HSS_REALM}`, realm: HSS_REALM,
    });
  });
  after(async () => {
    await reg?.close();
    await hss?.close();
    await tmp?.remove();
  });

  test('the Cx link is TLS and a registration completes', async () => {
    assert.match(hss.diameterUrl, /^tls:\/\//);
    await reg.node.waitForPeer({ originHost: `hss.${HSS_REALM}` }, 5000);
    const ue = await Ue.udp(sipPort(reg, 'UDP'));
    try {
      assert.equal((await registerAka(ue, await openIsim(tmp.dir, alice), alice)).final.msg.status, 200);
    } finally {
      ue.close();
    }
  });
});
