/**
 * TS 24.229 §5.1.1.2 / §5.1.1.4 / §5.1.1.6 against a registrar that is not ours: Kamailio 5.6's S-CSCF
 * (ims_auth + ims_registrar_scscf) with our HSS (`mcx hss`, subscribers from CSV) as its Cx peer. Our UE — SIP.js over
 * our transports, the AKA digest from our ISIM — registers with AKAv1-MD5 over UDP (REGISTER → 401 → REGISTER →
 * 200, the §10.6.2.2 step numbers on the ladder) and TCP, keeps its SQN state across runs (and after `isim reset`),
 * refreshes before expiry, and de-registers every binding with `Contact: *`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../../lib/log.ts';
import { parseUeOptions } from '../../ue-client/options.ts';
import { Registration, type RegistrationResult } from '../../ue-client/register.ts';
import { agentOptions, closeUeSecrets, openUeSecrets, runDeregister } from '../../ue-client/run.ts';
import { UeAgent } from '../../ue-client/ua.ts';
import { UeError } from '../../ue-client/errors.ts';
import { ladderShape, runUe, startKamailioNet, subscriber, subscribersCsv, tempDir, ueFlags, withIsim, type KamailioNet } from './fixture.ts';

const REALM = 'ims.mcx.test';
const alice = subscriber('alice', REALM);
const bob = subscriber('bob', REALM);
const carol = subscriber('carol', REALM);

describe('TS 24.229 §5.1.1.2: our UE registers with IMS AKA through Kamailio\'s S-CSCF and our HSS', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let net: KamailioNet;
  const registrar = (): string => `127.0.0.1:${net.sipPort}`;

  before(async () => {
    tmp = await tempDir('mcx-ue-kam-');
    net = await startKamailioNet(tmp.dir, REALM, subscribersCsv([alice, bob, carol]));
  });
  after(async () => {
    await net?.close();
    await tmp?.remove();
  });

  test('UDP, static flow: REGISTER (2) → 401 (11) → REGISTER auth (12) → 200 (13) → registered (14), then de-REGISTER', async () => {
    const r = await runUe(ueFlags(alice, REALM, registrar(), join(tmp.dir, 'alice.json'), { flow: 'static', expires: 600 }));
    assert.equal(r.status, 0, `${r.out.join('\n')}\n${r.err.join('\n')}${net.diag()}`);
    assert.deepEqual(ladderShape(r.ladder), [
      '→ REGISTER 2', '← 401 11', '→ REGISTER auth 12', '← 200 13', 'registered 14',
      '→ de-REGISTER auth', '← 401', '→ de-REGISTER auth', '← 200',
    ]);
    assert.match(r.ladder[1] ?? '', /AKAv1-MD5, ISIM: RES/);
    const result = r.out.find((l) => l.startsWith('registered: ')) ?? '';
    assert.match(result, new RegExp(`registered: ${alice.impu} \\(IMPI ${alice.impi}\\) expires=\\d+s contact=<sip:alice@127\\.0\\.0\\.1:\\d+;transport=udp>`));
    assert.match(result, /service-route=<sip:orig@scscf\.ims\.mcx\.test/, 'Kamailio\'s Service-Route reached the result');
    assert.ok(r.out.includes('deregistered'));
  });

  test('TCP: the same exchange on one connection', async () => {
    const r = await runUe(ueFlags(bob, REALM, registrar(), join(tmp.dir, 'bob.json'), { transport: 'tcp', expires: 600 }));
    assert.equal(r.status, 0, `${r.out.join('\n')}\n${r.err.join('\n')}${net.diag()}`);
    assert.deepEqual(ladderShape(r.ladder).slice(0, 5), ['→ REGISTER', '← 401', '→ REGISTER auth', '← 200', 'registered']);
    assert.match(r.out.find((l) => l.startsWith('registered: ')) ?? '', /;transport=tcp>/);
  });

  test('the ISIM file keeps SEQ_MS: a second run is fresh, and after `isim reset` the UE still registers without auts', async () => {
    const file = join(tmp.dir, 'carol.json');
    const sqns: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await runUe(ueFlags(carol, REALM, registrar(), file, { expires: 600 }));
      assert.equal(r.status, 0, r.err.join('\n'));
      assert.ok(!r.ladder.some((l) => /auts/.test(l)), 'no resynchronisation was needed');
      await access(`${file}.lock`).then(() => assert.fail('the run left its ISIM open'), () => undefined);
      sqns.push((await withIsim(file, (i) => i.toJSON())).sqnMs);
    }
    assert.ok(BigInt(`0x${sqns[1]}`) > BigInt(`0x${sqns[0]}`), `SQN_MS moved on between runs: ${sqns.join(' → ')}`);
    await withIsim(file, (i) => i.reset());
    assert.equal((await withIsim(file, (i) => i.toJSON())).sqnMs, '000000000000');
    const r = await runUe(ueFlags(carol, REALM, registrar(), file, { expires: 600 }));
    assert.equal(r.status, 0, r.err.join('\n'));
    assert.ok(!r.ladder.some((l) => /auts/.test(l)), 'a factory-fresh ISIM accepts the HSS counter (33.102 Annex C.2: within Δ)');
    assert.notEqual((await withIsim(file, (i) => i.toJSON())).sqnMs, '000000000000');
  });

  test('§5.1.1.4: refresh before expiry goes through a fresh challenge; §5.1.1.6 de-REGISTER of every binding (Contact: *)', async () => {
    const cfg = await parseUeOptions(ueFlags(alice, REALM, registrar(), join(tmp.dir, 'alice.json'), { expires: 600 }));
    const secrets = await openUeSecrets(cfg);
    const ue = await UeAgent.start(await agentOptions(cfg, secrets, silentLogger));
    const refreshes: (RegistrationResult | UeError)[] = [];
    let refreshed: () => void = () => undefined;
    const twice = new Promise<void>((resolve) => { refreshed = resolve; });
    // The schedule is 24.229's in production; here a refresh is due 0.3 s after each grant.
    const reg = new Registration(ue, { refreshDelay: () => 0.3, onRefresh: (o) => { refreshes.push(o); if (refreshes.length === 2) refreshed(); } });
    try {
      const first = await reg.register();
      await twice;
      reg.close();
      assert.ok(refreshes.every((o) => !(o instanceof UeError)), String(refreshes.find((o) => o instanceof UeError)));
      assert.equal(reg.current?.contact, first.contact, 'the same binding is refreshed');
      const shape = ladderShape(ue.ladder.lines());
      assert.deepEqual(shape.slice(5, 13), ['→ re-REGISTER auth', '← 401', '→ re-REGISTER auth', '← 200', '→ re-REGISTER auth', '← 401', '→ re-REGISTER auth', '← 200']);
    } finally {
      await ue.stop(true);
      await closeUeSecrets(secrets);
    }
    const out: string[] = [];
    const status = await runDeregister(cfg, { out: (l) => out.push(l), err: (l) => out.push(l) });
    assert.equal(status, 0, `${out.join('\n')}${net.diag()}`);
    assert.ok(out.some((l) => /de-REGISTER/.test(l)) && out.includes(`deregistered: every binding of ${alice.impu}`), out.join('\n'));
  });
});
