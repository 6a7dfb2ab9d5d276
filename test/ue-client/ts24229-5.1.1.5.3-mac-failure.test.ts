/**
 * TS 24.229 §5.1.1.5.3 / TS 33.102 §6.3.3: the network is not authentic — its HSS holds the subscriber with another
 * OP, so AUTN's MAC does not verify on the ISIM. The UE sends ONE REGISTER whose Authorization has `response=""` and
 * no `auts`, answers nothing more, and fails with 'network authentication failed (MAC)' (exit status 3). Checked on
 * the wire against Kamailio's S-CSCF (which answers that REGISTER with a fresh 401) and against our registrar (403).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { silentLogger } from '../../lib/log.ts';
import { parseCredentials, parseMessage } from '../../lib/sip/index.ts';
import { UeError } from '../../ue-client/errors.ts';
import { parseUeOptions } from '../../ue-client/options.ts';
import { Registration } from '../../ue-client/register.ts';
import { agentOptions, closeUeSecrets, openUeSecrets } from '../../ue-client/run.ts';
import { UeAgent } from '../../ue-client/ua.ts';
import {
  ladderShape, runUe, startKamailioNet, startRegistrarNet, subscriber, subscribersCsv, tempDir, ueFlags, type KamailioNet, type RegistrarNet,
} from './fixture.ts';

const WRONG_OP = 'ab'.repeat(16);

/** Registers through the library, capturing every REGISTER put on the wire and every response received. */
async function registerOnWire(flags: Record<string, unknown>): Promise<{ error: unknown; registers: string[]; responses: number[] }> {
  const cfg = await parseUeOptions(flags);
  const secrets = await openUeSecrets(cfg);
  const ue = await UeAgent.start(await agentOptions(cfg, secrets, silentLogger));
  const registers: string[] = [];
  const responses: number[] = [];
  ue.transport.addTap((e) => {
    if (e.direction === 'out' && !e.retransmission && e.raw.startsWith('REGISTER ')) registers.push(e.raw);
    if (e.direction === 'in' && !e.dropped) responses.push(Number(e.raw.slice(8, 11)));
  });
  let error: unknown;
  try {
    await new Registration(ue, { timeoutMs: 10_000 }).register();
  } catch (err) {
    error = err;
  } finally {
    await ue.stop();
    await closeUeSecrets(secrets);
  }
  return { error, registers, responses };
}

function credentialsOf(raw: string) {
  const v = parseMessage(Buffer.from(raw)).headers.get('authorization');
  assert.ok(v, `REGISTER without Authorization:\n${raw}`);
  return parseCredentials(v);
}

function assertMacFailureExchange(w: { error: unknown; registers: string[] }, finalStatus: number): void {
  // A 403 after the report is the partner refusing (our registrar's decoy for an unknown identity looks the same as
  // keys that differ); a new 401 (Kamailio) leaves the MAC failure as the reason.
  const code = finalStatus === 403 ? 'UE_AUTH_REJECTED' : 'UE_MAC_FAILURE';
  assert.ok(w.error instanceof UeError && w.error.code === code, `expected ${code}, got ${String(w.error)}`);
  assert.match(w.error.message, finalStatus === 403 ? /refused the identity.*MAC failure/ : /network authentication failed \(MAC\)/);
  if (finalStatus === 403) assert.equal(w.error.detail, 'mac_failure');
  assert.equal(w.error.status, finalStatus);
  assert.equal(w.error.exitStatus, 3);
  assert.equal(w.registers.length, 2, 'the initial REGISTER and exactly one answer to the challenge');
  const first = credentialsOf(w.registers[0] as string);
  assert.equal(first.nonce, '', 'the initial REGISTER carries the 24.229 empty credentials');
  const answer = credentialsOf(w.registers[1] as string);
  assert.equal(answer.response, '', 'response=""');
  assert.equal(answer.auts, undefined, 'no auts: this is not a synchronisation failure');
  assert.ok(answer.nonce && answer.nonce.length >= 44, 'it names the nonce it refuses');
}

describe('TS 24.229 §5.1.1.5.3: MAC failure → one REGISTER with response="" and no auts → exit with the MAC reason (or, after a 403, as refused)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let kam: KamailioNet;
  let ours: RegistrarNet;
  const REALM = 'ims.mcx.test';
  const DOMAIN = 'partner.example';
  const eve = subscriber('eve', REALM);
  const mallory = subscriber('mallory', DOMAIN);

  before(async () => {
    tmp = await tempDir('mcx-ue-mac-');
    [kam, ours] = await Promise.all([
      startKamailioNet(tmp.dir, REALM, subscribersCsv([eve], { [eve.impi]: WRONG_OP })),
      startRegistrarNet(tmp.dir, DOMAIN, 'primary.example', subscribersCsv([mallory], { [mallory.impi]: WRONG_OP })),
    ]);
  });
  after(async () => {
    await kam?.close();
    await ours?.close();
    await tmp?.remove();
  });

  test('Kamailio S-CSCF: the UE reports the MAC failure once; Kamailio re-challenges (401); the UE answers nothing more', async () => {
    const w = await registerOnWire(ueFlags(eve, REALM, `127.0.0.1:${kam.sipPort}`, join(tmp.dir, 'eve-lib.json')));
    assert.deepEqual(w.responses, [401, 401], `Kamailio answers the empty response with a new challenge${kam.diag()}`);
    assertMacFailureExchange(w, 401);
  });

  test('our registrar: 403 to the empty response; `mcx ue register` exits 3 as refused (UE_AUTH_REJECTED, detail mac_failure), the ladder showing the MAC failure', async () => {
    const w = await registerOnWire(ueFlags(mallory, DOMAIN, `127.0.0.1:${ours.port('UDP')}`, join(tmp.dir, 'mallory-lib.json')));
    assert.deepEqual(w.responses, [401, 403]);
    assertMacFailureExchange(w, 403);

    const r = await runUe(ueFlags(mallory, DOMAIN, `127.0.0.1:${ours.port('UDP')}`, join(tmp.dir, 'mallory-cli.json'), { flow: 'static' }));
    assert.equal(r.status, 3);
    assert.match(r.err.join('\n'), /UE_AUTH_REJECTED: the partner system refused the identity, or its challenge did not authenticate \(unknown identity, or keys that differ\): AUTN did not verify at the ISIM \(MAC failure\).*403/);
    assert.deepEqual(ladderShape(r.ladder), ['→ REGISTER 2', '← 401 11', '→ REGISTER response="" 12', '← 403']);
    assert.match(r.ladder[1] ?? '', /ISIM: MAC failure \(network not authentic\)/);
  });
});
