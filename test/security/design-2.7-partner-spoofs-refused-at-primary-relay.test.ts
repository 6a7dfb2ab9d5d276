/**
 * DESIGN §2.7, issue #11: what a peer inside the partner system may do at the primary relay (the primary "SIP core /
 * IMS", every role its own `mcx` process, mutual TLS). The spoof that once worked — a partner certificate (the
 * registrar's) with a CER naming the primary realm, a MAR right behind it — is refused at the CER with 3010 and no
 * MAA; so is the partner MMS's certificate naming the primary realm; a partner MMS admitted with its honest identity
 * cannot then send requests under another Origin-Host/Origin-Realm, nor forge a Route-Record. Each test carries its
 * positive control: the honest partner MMS's static MAR gets its vector through the same relay.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { ResultCode } from '../../lib/diameter/constants.ts';
import { readCxResult, readMaa } from '../../lib/diameter/cx/index.ts';
import { getValue } from '../../lib/diameter/message.ts';
import type { DiameterNode } from '../../lib/diameter/node.ts';
import { buildCer } from '../../lib/diameter/peer-messages.ts';
import { encodeMessage } from '../../lib/diameter/codec.ts';
import { rawCaps, type RawPeer } from '../diameter/harness.ts';
import { startMigrationTestbed, type MigrationTestbed } from '../e2e/migration-testbed.ts';
import {
  PARTNER_REALM, PRIMARY_REALM, assertNothingHandedOut, dynamicUser, partnerLeaf, partnerNode, primaryMar, rawTlsPeer, secondPartnerMms,
  staticUser, type Material,
} from './helpers.ts';

const alice = staticUser();
const carol = dynamicUser();

describe('design §2.7 partner spoofs at the primary relay', () => {
  let tb: MigrationTestbed;
  let mms2: { host: string; tls: Material };
  let honest: DiameterNode;
  const nodes: DiameterNode[] = [];
  const raw: RawPeer[] = [];

  before(async () => {
    tb = await startMigrationTestbed([alice, carol]);
    mms2 = await secondPartnerMms(tb);
    honest = await partnerNode(mms2.host, mms2.tls, tb.addresses.relay, `relay.${PRIMARY_REALM}`, nodes);
  });
  after(async () => {
    for (const p of raw) p.destroy();
    for (const n of nodes) await n.close();
    await tb?.close();
  });

  /** Positive control: the honest second partner MMS gets alice's (static) vector through the relay. */
  async function staticMarPasses(): Promise<void> {
    const maa = readMaa(await honest.request(primaryMar(alice, { host: mms2.host, realm: PARTNER_REALM }), { timeoutMs: 3000 }));
    assert.deepEqual(maa.result, { resultCode: 2001 });
    assert.equal(maa.items.length, 1);
  }

  /** Sends CER and a MAR in one write (the spoof), returns the CEA and whether anything answered the MAR. */
  async function cerAndMar(tls: Material, host: string, realm: string): Promise<{ cea: DiameterMessage; maa: DiameterMessage | undefined }> {
    const peer = await rawTlsPeer(tb.addresses.relay, tls, host, realm);
    raw.push(peer);
    const mar = primaryMar(carol, { host, realm }, { hopByHop: 0x5b0f });
    peer.send(Buffer.concat([encodeMessage(buildCer(rawCaps(host, realm), { hopByHop: 0xcec, endToEnd: 0xcec })), encodeMessage(mar)]));
    const cea = await peer.next((m) => !m.flags.request && m.hopByHop === 0xcec);
    const maa = await peer.next((m) => m.hopByHop === 0x5b0f, 1500).catch(() => undefined);
    await peer.closedWithin();
    return { cea, maa };
  }

  function assertCea3010(cea: DiameterMessage, why: RegExp): void {
    assert.equal(getValue(cea, 'Result-Code'), ResultCode.UNKNOWN_PEER);
    assert.equal(cea.flags.error, true);
    assert.match(getValue(cea, 'Error-Message') ?? '', why);
  }

  test('the partner registrar\'s certificate with CER Origin-Realm = the primary realm, MAR behind it: CEA 3010, no MAA, closed', async () => {
    const registrar = await partnerLeaf(tb, 'registrar');
    const spoof = await cerAndMar(registrar, `registrar.${PARTNER_REALM}`, PRIMARY_REALM);
    assertCea3010(spoof.cea, /Origin-Realm primary\.example is not the certificate's realm partner\.example/);
    assert.equal(spoof.maa, undefined, 'the MAR behind the refused CER was never answered');
    // With its honest realm the registrar certificate is still no MMS: refused as well.
    const honestRealm = await cerAndMar(registrar, `registrar.${PARTNER_REALM}`, PARTNER_REALM);
    assertCea3010(honestRealm.cea, /may act here only as mms; its certificate is for role registrar/);
    assert.equal(honestRealm.maa, undefined);
    assert.match(tb.output('relay'), /CER from registrar\.partner\.example refused: TLS identity mismatch: Origin-Realm primary\.example/);
    await staticMarPasses();
  });

  test('the partner MMS\'s certificate with CER Origin-Realm = the primary realm: CEA 3010, no MAA', async () => {
    for (const tls of [await partnerLeaf(tb, 'mms'), mms2.tls]) {
      const host = tls === mms2.tls ? mms2.host : `mms.${PARTNER_REALM}`;
      const spoof = await cerAndMar(tls, host, PRIMARY_REALM);
      assertCea3010(spoof.cea, /Origin-Realm primary\.example is not the certificate's realm partner\.example/);
      assert.equal(spoof.maa, undefined);
    }
    // Nor may it claim a host of the primary realm (the certificate names none).
    const asPrimaryMms = await cerAndMar(mms2.tls, `mms.${PRIMARY_REALM}`, PRIMARY_REALM);
    assertCea3010(asPrimaryMms.cea, /Origin-Host mms\.primary\.example is not among the certificate's DNS names/);
    await staticMarPasses();
  });

  test('an admitted partner MMS sending a request under another Origin-Host or Origin-Realm, or with a Route-Record: 5012, no vector', async () => {
    const before = tb.output('hss').length;
    const attempts: Array<[DiameterMessage, RegExp]> = [
      [primaryMar(carol, { host: `mms.${PRIMARY_REALM}`, realm: PRIMARY_REALM }), /Origin-Host mms\.primary\.example is not the peer's own/],
      [primaryMar(carol, { host: mms2.host, realm: PRIMARY_REALM }), /Origin-Realm primary\.example is not the peer's own/],
      [primaryMar(alice, { host: `mms.${PARTNER_REALM}`, realm: PARTNER_REALM }), /Origin-Host mms\.partner\.example is not the peer's own/],
      // A Route-Record naming the primary MMS would make the HSS take it for the dynamic path: a partner may not relay.
      [primaryMar(carol, { host: mms2.host, realm: PARTNER_REALM }, { recorded: [`mms.${PRIMARY_REALM}`] }), /may not relay into realm primary\.example/],
    ];
    for (const [req, why] of attempts) {
      const answer = await honest.request(req, { timeoutMs: 3000 });
      assert.deepEqual(readCxResult(answer), { resultCode: ResultCode.UNABLE_TO_COMPLY });
      assert.match(getValue(answer, 'Error-Message') ?? '', why);
      assert.equal(getValue(answer, 'Origin-Host'), `relay.${PRIMARY_REALM}`, 'refused by the relay itself');
      assertNothingHandedOut(answer);
    }
    assert.doesNotMatch(tb.output('hss').slice(before), new RegExp(carol.impi.replace(/\./g, '\\.')), 'nothing of it reached the HSS');
    await staticMarPasses();
  });
});
