/**
 * TS 23.280 §10.6.2.2 (static configuration) with our UE (SIP.js + the software ISIM, run.ts as `mcx ue register`
 * runs it) through every role as its own process (migration-testbed.ts): registrar → partner MMS (static mapping) →
 * relay ("SIP core / IMS") → HSS. The ISIM holds the primary identity and keys; REGISTER carries the static partner
 * identity. Over UDP, TCP and TLS (partner registrar certificate, both systems' CAs trusted) the ladder shows steps
 * 2, 11, 12, 13, 14 and rspauth verifies; a UE whose SEQ_MS is ahead of the HSS resynchronises through the MMS and
 * relay (401 → REGISTER auts → 401 → REGISTER → 200); a UE whose OP is not the HSS's reports the MAC failure with
 * `response=""` and no `auts`, gets 403 and fails with exit status 3. That a static registration never crosses the
 * primary MMS is checked against a control in the same testbed: a dynamic one (`mcx ue migrate`) does, and shows.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { Isim } from '../../ue-client/isim.ts';
import { startMcx } from '../helpers/process.ts';
import { advanceIsim } from '../registrar/ue.ts';
import { ladderShape, runUe, type UeRun } from '../ue-client/fixture.ts';
import {
  PARTNER_REALM, PRIMARY_REALM, startMigrationTestbed, staticIdentity, subscriber, ueMigrateArgs, type MigrationTestbed, type Subscriber,
} from './migration-testbed.ts';

const alice = subscriber('alice');
const bob = subscriber('bob');
const frank = subscriber('frank');
const mallory = subscriber('mallory');
const WRONG_OP = 'ab'.repeat(16);

const diag = (r: UeRun): string => `${r.out.join('\n')}\n${r.err.join('\n')}`;
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Lines of the primary MMS that carry a MAR of `impi` across it (TS 23.280 §10.6.2.3 step 6 at the primary MMS). */
const crossedPrimaryMms = (out: string, impi: string): string[] =>
  out.split('\n').filter((l) => l.includes('"step":6,"node":"primary-mms"') && l.includes(impi));
const lockGone = (isimFile: string): Promise<boolean> => access(`${isimFile}.lock`).then(() => false, () => true);

describe('TS 23.280 §10.6.2.2 with our UE: static partner identity, primary ISIM, registrar → partner MMS → relay → HSS', () => {
  let tb: MigrationTestbed;

  /** `mcx ue register` flags for `u`'s static partner identity, its ISIM keeping the primary identity. */
  const flags = (u: Subscriber, file: string, extra: Record<string, unknown> = {}): Record<string, unknown> => {
    const id = staticIdentity(u);
    return {
      registrar: `127.0.0.1:${tb.addresses.sipUdp}`, domain: PARTNER_REALM, impi: id.impi, impu: id.impu, k: u.k, op: u.op, amf: u.amf,
      'isim-state': file, 'isim-impi': u.impi, 'isim-impu': u.impus[0], 'isim-domain': PRIMARY_REALM, flow: 'static', expires: 600, ...extra,
    };
  };

  before(async () => {
    tb = await startMigrationTestbed([alice, bob, frank, mallory]);
  });
  after(() => tb?.close());

  for (const transport of ['udp', 'tcp', 'tls'] as const) {
    test(`${transport.toUpperCase()}: steps 2 → 11 → 12 → 13 → 14, rspauth verified, de-registered; the HSS saw only the primary IMPI`, async () => {
      const port = { udp: tb.addresses.sipUdp, tcp: tb.addresses.sipTcp, tls: tb.addresses.sipTls }[transport];
      // A MAR (step 6) — unless the 401 used a vector kept from an earlier MAR's batch — and the SAR of the 200.
      const relayed = new RegExp(`"step":6,"node":"relay","msg":"[^"]*primary IMPI ${escape(alice.impi)}|"msg":"SAR for ${escape(alice.impi)} relayed`, 'g');
      const before = tb.output('relay').match(relayed)?.length ?? 0;
      const r = await runUe(flags(alice, join(tb.dir, 'alice.json'), {
        registrar: `127.0.0.1:${port}`, transport, ...(transport === 'tls' ? { 'tls-ca': tb.caFiles() } : {}),
      }));
      assert.equal(r.status, 0, diag(r));
      assert.deepEqual(ladderShape(r.ladder).slice(0, 5), ['→ REGISTER 2', '← 401 11', '→ REGISTER auth 12', '← 200 13', 'registered 14']);
      const result = r.out.find((l) => l.startsWith('registered: ')) ?? '';
      assert.match(result, new RegExp(`^registered: ${escape(staticIdentity(alice).impu)} .*;transport=${transport}>.* rspauth=verified`));
      assert.ok(r.out.includes('deregistered'), diag(r));
      assert.ok((tb.output('relay').match(relayed)?.length ?? 0) > before, 'this registration\'s Cx requests crossed the relay under the primary IMPI');
      assert.ok(!tb.output('hss').includes(staticIdentity(alice).impi), 'the HSS never sees the partner IMPI');
      assert.ok(!tb.output('primary-mms').includes(alice.impi), 'a static mapping never crosses the primary MMS (the control below shows one that does)');
      assert.ok(await lockGone(join(tb.dir, 'alice.json')), 'the run closed its ISIM');
    });
  }

  test('control for "never crosses the primary MMS": a dynamic registration in the same testbed does cross it, and its log shows the primary IMPI', async () => {
    assert.deepEqual(crossedPrimaryMms(tb.output('primary-mms'), bob.impi), [], 'nothing of bob before');
    const [primaryCa, partnerCa] = tb.caFiles() as [string, string];
    const idm = ueMigrateArgs(tb, bob).filter((a, i, all) => a !== '--tls-ca' && all[i - 1] !== '--tls-ca');
    const p = startMcx(['ue', 'migrate', ...idm, '--primary-ca', primaryCa, '--partner-ca', partnerCa, '--isim-state', join(tb.dir, 'bob.json'),
      '--k', bob.k, '--op', bob.op, '--amf', bob.amf, '--isim-impi', bob.impi, '--expires', '600', '--end']);
    try {
      assert.equal(await p.exited, 0, p.output());
    } finally {
      await p.stop('SIGKILL');
    }
    assert.ok(crossedPrimaryMms(tb.output('primary-mms'), bob.impi).length >= 1, `bob's MAR crossed the primary MMS and was logged:\n${tb.output('primary-mms').slice(-3000)}`);
    assert.deepEqual(crossedPrimaryMms(tb.output('primary-mms'), alice.impi), [], 'and still nothing of alice\'s static registrations');
  });

  test('SEQ_MS ahead of the HSS: 401 → REGISTER auts → 401 → REGISTER auth → 200, the HSS reset SEQ_HE for the primary IMPI', async () => {
    const file = join(tb.dir, 'frank.json');
    const isim = await Isim.open(file, { k: Buffer.from(frank.k, 'hex'), op: Buffer.from(frank.op, 'hex'), impi: frank.impi, impus: frank.impus, domain: PRIMARY_REALM });
    await advanceIsim(isim, frank);
    // Closed first: the UE opens the file itself, and one holder at a time.
    await isim.close();
    const r = await runUe(flags(frank, file));
    assert.equal(r.status, 0, diag(r));
    assert.deepEqual(ladderShape(r.ladder).slice(0, 7), [
      '→ REGISTER 2', '← 401 11', '→ REGISTER auts 12', '← 401 11', '→ REGISTER auth 12', '← 200 13', 'registered 14',
    ]);
    assert.match(r.ladder[1] ?? '', /ISIM: SQN not acceptable \(replay\) → auts/);
    assert.match(r.out.find((l) => l.startsWith('registered: ')) ?? '', / resynchronised/);
    const resync = tb.output('hss').split('\n').find((l) => l.includes('resync: SEQ_HE set from SQN_MS'));
    assert.ok(resync?.includes(`"impi":"${frank.impi}"`), `HSS resync line for ${frank.impi}: ${resync}`);
  });

  test('an ISIM with another OP than the HSS: MAC failure, one REGISTER response="" without auts, 403, exit status 3', async () => {
    const r = await runUe(flags(mallory, join(tb.dir, 'mallory.json'), { op: WRONG_OP }));
    assert.equal(r.status, 3, diag(r));
    assert.deepEqual(ladderShape(r.ladder), ['→ REGISTER 2', '← 401 11', '→ REGISTER response="" 12', '← 403']);
    assert.match(r.ladder[1] ?? '', /ISIM: MAC failure \(network not authentic\)/);
    assert.match(r.err.join('\n'), /UE_AUTH_REJECTED: the partner system refused the identity, or its challenge did not authenticate \(unknown identity, or keys that differ\): AUTN did not verify at the ISIM \(MAC failure\).*403/);
    await tb.role('registrar').waitFor(/empty response without auts \(MAC failure at the UE/, 5000);
  });
});
