/**
 * RFC 3261 §26.2.1 / §18 and DESIGN §2.1 ("REGISTER over UDP, TCP and TLS"): a plain AKA REGISTER (no sec-agree) over
 * TLS from a Node `tls` client that verifies the registrar's certificate — the partner CA from `initPki` as its only
 * trust anchor, servername `registrar.<realm>` — gets 401, then 200 on the same connection. The verification is real:
 * another name, or another system's CA, fails the handshake.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initPki } from '../../certs/issue.ts';
import { certPaths } from '../../certs/layout.ts';
import type { RunningHss } from '../../hss/run.ts';
import type { RunningRegistrar } from '../../registrar/server.ts';
import {
  DOMAIN, HSS_REALM, Ue, akaUser, headerLines, hssPort, openIsim, registerAka, sipPort, startTestHss, startTestRegistrar,
  subscribersCsv, tempDir,
} from './helpers.ts';

const alice = akaUser('alice');
const SERVERNAME = `registrar.${DOMAIN}`;

describe('RFC 3261 §26.2: REGISTER over TLS with a verified registrar certificate', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let hss: RunningHss;
  let reg: RunningRegistrar;
  let ca: string;
  let otherCa: string;

  before(async () => {
    tmp = await tempDir();
    const pki = join(tmp.dir, 'pki');
    await initPki({ dir: pki, systems: [{ name: 'partner', realm: DOMAIN }, { name: 'primary', realm: HSS_REALM }] });
    const paths = certPaths(pki, 'partner', 'registrar');
    ca = await readFile(paths.ca, 'utf8');
    otherCa = await readFile(certPaths(pki, 'primary', 'registrar').ca, 'utf8');
    hss = await startTestHss(tmp.dir, subscribersCsv([alice]));
    reg = await startTestRegistrar(tmp.dir, [hssPort(hss)], {
      sip: [{ transport: 'tls', host: '127.0.0.1', port: 0 }], tls: { cert: paths.cert, key: paths.key, ca: [paths.ca] },
    });
  });
  after(async () => {
    await reg?.close();
    await hss?.close();
    await tmp?.remove();
  });

  test(`a Node tls client verifying ${SERVERNAME} against the partner CA: REGISTER → 401, REGISTER with RES → 200`, async () => {
    const ue = await Ue.stream(sipPort(reg, 'TLS'), { ca, servername: SERVERNAME });
    try {
      assert.equal(ue.tlsPeer?.authorized, true);
      assert.equal(ue.tlsPeer?.certificate.subject.CN, SERVERNAME);
      const r = await registerAka(ue, await openIsim(tmp.dir, alice), alice);
      assert.equal(r.challenge.text.split('\r\n')[0], 'SIP/2.0 401 Unauthorized');
      assert.deepEqual(headerLines(r.challenge.text, 'Security-Server'), [], 'no sec-agree was asked for');
      assert.equal(r.final.text.split('\r\n')[0], 'SIP/2.0 200 OK', r.final.text);
      assert.match(headerLines(r.final.text, 'Contact')[0] ?? '', new RegExp(`^<sip:ue@127\\.0\\.0\\.1:${ue.localPort};transport=tls>;expires=\\d+$`));
      const bound = await reg.store.get<{ bindings: Array<{ source: string }> }>(`registrar:aor:${alice.impus[0]}`);
      assert.equal(bound?.bindings[0]?.source, `TLS 127.0.0.1:${ue.localPort}`);
    } finally {
      ue.close();
    }
  });

  test('the client refuses the registrar under another name (ERR_TLS_CERT_ALTNAME_INVALID)', async () => {
    await assert.rejects(Ue.stream(sipPort(reg, 'TLS'), { ca, servername: 'registrar.elsewhere.example' }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  test('the client refuses the registrar when only another system\'s CA is trusted', async () => {
    await assert.rejects(Ue.stream(sipPort(reg, 'TLS'), { ca: otherCa, servername: SERVERNAME }), (e: NodeJS.ErrnoException) => {
      assert.match(e.code ?? '', /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN|CERT_SIGNATURE_FAILURE)$/);
      return true;
    });
  });
});
