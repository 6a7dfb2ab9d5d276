/**
 * DESIGN §2.2 "tshark must decode every message we send", on the one leg of the static flow that is not TLS: the
 * relay → HSS connection (plain TCP inside the primary system, `--route …=tcp://…`). Captured live while a
 * registration's MAR, a resync-free second MAR and a SAR cross it; decoded without a Malformed packet or an expert
 * warning; the requests name only primary identities and carry the relay's Route-Record of the partner MMS.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readCxResult } from '../../lib/diameter/cx/index.ts';
import { decodeDiameter, startCapture, type Capture } from '../helpers/tshark.ts';
import type { TwoSystemTestbed } from '../../deploy/testbed-builder.ts';
import { PARTNER_NAMES, mar, registrarClient, sar, staticTestbed, type Role } from './testbed.ts';

describe('design §2.2 tshark on the relay → HSS leg of the static flow', () => {
  let tb: TwoSystemTestbed;
  let hss: Role;
  let capture: Capture | undefined;
  let decoded: Awaited<ReturnType<typeof decodeDiameter>>;

  before(async () => {
    tb = await staticTestbed('mms-tshark');
    hss = await tb.hss();
    capture = await startCapture(`tcp port ${hss.port}`);
    const relay = await tb.relay({ upstream: hss.port });
    const mms = await tb.partnerMms({ upstream: relay.port });
    const registrar = await registrarClient(tb, mms.port);
    await registrar.waitForPeer({ originHost: 'mms.partner.example' }, 10_000);
    await mms.waitFor(/route to primary\.example: relay\.primary\.example/, 10_000);
    for (const req of [mar({ n: 2 }), mar(), sar()]) {
      assert.equal(readCxResult(await registrar.request(req, { timeoutMs: 3000 })).resultCode, 2001);
    }
    const done = capture;
    capture = undefined;
    await done.stop();
    decoded = await decodeDiameter(done.file, hss.port);
  });
  after(async () => {
    // Only a capture still running (the set-up failed half-way) is stopped here.
    await capture?.stop();
    await tb?.close();
  });

  test('CER/CEA, 2 MAR/MAA and a SAR/SAA decode without Malformed packets or expert warnings', () => {
    const commands = decoded.fields.map(([code, request]) => `${code}${request === '1' || request === 'True' ? 'R' : 'A'}`);
    for (const c of ['257R', '257A', '303R', '303A', '301R', '301A']) assert.ok(commands.includes(c), `${c} in ${commands.join(' ')}`);
    assert.equal(commands.filter((c) => c === '303R').length, 2);
    assert.doesNotMatch(decoded.verbose, /Malformed/i);
    assert.doesNotMatch(decoded.expert, /Warning/);
  });

  test('the HSS leg carries primary identities only, Origin-Host of the partner MMS and the relay\'s Route-Record', () => {
    for (const n of PARTNER_NAMES) assert.ok(!decoded.verbose.includes(n), `no ${n} on the primary leg`);
    assert.match(decoded.verbose, /User-Name: alice@primary\.example/);
    assert.match(decoded.verbose, /Route-Record: mms\.partner\.example/);
    assert.match(decoded.verbose, /Origin-Host: mms\.partner\.example/);
  });
});
