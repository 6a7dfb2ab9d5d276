/**
 * RFC 8760 §2.4 and the registrar's default offer, with a real SIP Digest softphone (issue #13): baresip 1.0 fails a
 * registration whose 401 carries any challenge it cannot compute ("Function not implemented" for SHA-256) instead of
 * skipping it, so it registers only because the registrar offers MD5 alone by default (as Kamailio and Asterisk).
 * baresip runs from the directory the testbed writes (`baresip -f <dir>/clients/baresip/bob`: config and accounts as
 * written): REGISTER → 401 with one MD5 challenge → REGISTER → 200 on the wire, the binding at the registrar, and
 * `q` (its console's quit) de-registers → 200.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { sipFields, withoutRetransmissions } from '../helpers/tshark.ts';
import { requireCommand, softphoneTestbed, startClient } from './fixture.ts';

const FIELDS = ['sip.Method', 'sip.Status-Code', 'sip.from.user', 'sip.Via.transport', 'sip.auth.algorithm', 'sip.Contact', 'sip.CSeq.seq', 'sip.Call-ID'];

describe('RFC 8760: baresip registers with the testbed\'s generated account against the default MD5-only offer', () => {
  const f = softphoneTestbed('baresip');

  before(() => {
    requireCommand('baresip');
  });

  test('baresip -f clients/baresip/bob as written: 401 with one MD5 challenge → 200, bound over UDP; q → de-registration 200', { timeout: 30_000 }, async () => {
    const aor = f.tb.bob.impu;
    const capture = await f.capture();
    const registered = f.step13(aor, (l) => l.bindings === 1, 'the 200 to baresip\'s REGISTER');
    const baresip = startClient('baresip', ['-f', join(f.tb.layout.clientsDir, 'baresip', 'bob')], { cwd: f.tmp, env: { HOME: f.tmp } });
    await registered;
    await baresip.proc.waitFor(/useragent registered successfully/, 5000);
    const contacts = await f.bindings(aor);
    assert.equal(contacts.length, 1, JSON.stringify(contacts));
    assert.match(contacts[0]?.uri ?? '', /^sip:bob-0x[0-9a-f]+@127\.0\.0\.1:\d+$/);
    assert.match(contacts[0]?.source ?? '', /^UDP 127\.0\.0\.1:\d+$/);
    const cleared = f.step13(aor, (l) => l.bindings === 0, 'the 200 to baresip\'s de-registration');
    await baresip.quit('q');
    await cleared;
    assert.deepEqual(await f.bindings(aor), []);
    await capture.stop();
    const wire = withoutRetransmissions(await sipFields(capture.file, f.port, FIELDS)).filter((r) => r[2] === 'bob');
    assert.deepEqual(wire.map((r) => r[0] || r[1]), ['REGISTER', '401', 'REGISTER', '200', 'REGISTER', '401', 'REGISTER', '200'], wire.join('\n'));
    assert.equal(wire[1]?.[4], 'MD5', 'one challenge in the 401: MD5');
    assert.ok(['', 'MD5'].includes(wire[2]?.[4] ?? '?'), 'answered with MD5 (no algorithm parameter means MD5)');
    assert.match(wire[6]?.[5] ?? '', /expires=0/, 'the de-registration');
    assert.doesNotMatch(baresip.proc.output(), /Function not implemented/);
  });
});
