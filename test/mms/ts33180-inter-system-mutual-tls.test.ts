/**
 * DESIGN §1/§2.6 inter-system security of the Cx path: every Diameter connection between the two systems is TLS from
 * the first byte with mutual certificate authentication against the other system's CA. A relay whose certificate
 * comes from an unknown CA (a third system, `rogue`) is refused by the partner MMS — logged, never an open peer, and
 * the registrar gets 3002 — and a client of the rogue system is refused by the partner MMS's listener, also logged.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ResultCode } from '../../lib/diameter/constants.ts';
import { readCxResult } from '../../lib/diameter/cx/index.ts';
import type { DiameterNode } from '../../lib/diameter/node.ts';
import { freePort } from '../helpers/ports.ts';
import type { TwoSystemTestbed } from '../../deploy/testbed-builder.ts';
import { assertUpstreamRefused, mar, registrarClient, staticTestbed, waitForLines, type Role } from './testbed.ts';

describe('inter-system mutual TLS: certificates of an unknown CA are refused and the refusal is logged', () => {
  let tb: TwoSystemTestbed;
  let rogueRelay: Role;
  let mms: Role;
  let registrar: DiameterNode;

  before(async () => {
    tb = await staticTestbed('mms-tls');
    // The rogue relay's own upstream does not matter: it is never reached.
    rogueRelay = await tb.relay({ upstream: await freePort(), system: 'rogue' });
    mms = await tb.partnerMms({ upstream: rogueRelay.port });
    registrar = await registrarClient(tb, mms.port);
    await registrar.waitForPeer({ originHost: 'mms.partner.example' }, 10_000);
  });
  after(() => tb?.close());

  test('the partner MMS refuses a relay certified by an unknown CA: logged at warn, no route, 3002 to the registrar', async () => {
    await assertUpstreamRefused(mms);
    const answer = await registrar.request(mar(), { timeoutMs: 3000 });
    assert.deepEqual(readCxResult(answer), { resultCode: ResultCode.UNABLE_TO_DELIVER });
    assert.equal(answer.flags.error, true);
  });

  test('the partner MMS\'s listener refuses a client certified by an unknown CA and logs who and why', async () => {
    const rogue = await registrarClient(tb, mms.port, 'rogue');
    await assert.rejects(rogue.waitForPeer({ originHost: 'mms.partner.example' }, 2000));
    const [line] = await waitForLines(mms, (l) => /^TLS client 127\.0\.0\.1:\d+ refused: certificate not trusted/.test(String(l.msg)));
    assert.equal(line?.level, 40);
    assert.equal(line?.subject, 'registrar.rogue.example');
    assert.equal(line?.issuer, 'rogue.example MC root CA');
  });
});
