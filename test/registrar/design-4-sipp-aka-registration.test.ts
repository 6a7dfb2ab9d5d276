/**
 * DESIGN §4 interop: SIPp (Debian sip-tester 3.6.1) as an AKA UE registers with our registrar — REGISTER (24.229
 * initial form) → 401 → REGISTER with the AKAv1-MD5 response → 200 — over UDP and over TCP, against a real HSS run
 * with `--rand-policy sipp361` (SIPp hashes RES with strlen) and subscribers provisioned with OP (SIPp cannot take
 * OPc; nor K/OP starting with 0x00, see sippSafeUser). 50 users each register and re-register 3 times in one call
 * (every REGISTER without a fresh nonce is challenged again, so each is 401 → 200 with a fresh vector); a SIPp
 * de-registration (`Expires: 0` after authentication) removes the binding. A wrong K: SIPp itself dies on the MAC
 * failure, so the 403 is shown with a hand-written UE that ignores the MAC and answers with the wrong K's RES.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { parseAkaNonce } from '../../lib/aka/digest-aka.ts';
import { Milenage } from '../../lib/aka/milenage.ts';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import { freePorts } from '../helpers/ports.ts';
import { runSipp, writeAkaScenario, type SippResult, type SippUser } from '../helpers/sipp.ts';
import {
  DOMAIN, Ue, adminBindings, akaUser, callId, credentials, hssStats, initialAuthorization, registerBytes, registrarFixture,
  sipPort, type AkaUser,
} from './helpers.ts';
import { writeRoundsScenario } from './sipp-scenarios.ts';

/** SIPp 3.6.1 reads a K or OP whose first octet is 0x00 wrongly (a MAC failure follows; 0x00 elsewhere is fine). */
function sippSafeUser(name: string): AkaUser {
  for (;;) {
    const u = { ...akaUser(name), impus: [`sip:${name}@${DOMAIN}`] };
    if (!u.k.startsWith('00') && !u.op.startsWith('00')) return u;
  }
}

const users: AkaUser[] = Array.from({ length: 5 }, (_, i) => sippSafeUser(`sipp${i}`));
const user = (i: number): AkaUser => users[i] as AkaUser;
const LOAD_USERS = 50;
const RE_REGISTRATIONS = 3;
/** At most this many SIPp processes at once. */
const PARALLEL = 10;
const load: AkaUser[] = Array.from({ length: LOAD_USERS }, (_, i) => sippSafeUser(`load${i}`));
const sippUser = (u: AkaUser): SippUser => ({ domain: DOMAIN, impi: u.impi, impu: u.impus[0] as string, k: u.k, op: u.op, amf: u.amf });
const failure = (r: SippResult): string => `sipp exit ${r.code}\n${r.output.slice(-3000)}`;

describe('DESIGN §4: SIPp registers AKA users with the registrar', () => {
  const f = registrarFixture({ aka: [...users, ...load], hss: { randPolicy: 'sipp361' }, registrar: { admin: { host: '127.0.0.1', port: 0 } } });
  let local: number[];

  before(async () => {
    local = await freePorts(5 + LOAD_USERS);
  });

  const target = (transport: 'udp' | 'tcp'): string => `127.0.0.1:${sipPort(f.reg, transport === 'udp' ? 'UDP' : 'TCP')}`;

  for (const [i, transport] of [[0, 'udp'], [1, 'tcp']] as const) {
    test(`over ${transport.toUpperCase()}: REGISTER → 401 → REGISTER → 200`, async () => {
      const r = await runSipp(target(transport), writeAkaScenario(sippUser(user(i)), f.dir), { transport, localPort: local[i] as number });
      assert.equal(r.code, 0, failure(r));
      const bound = await f.reg.store.get<{ bindings: Array<{ uri: string }> }>(`registrar:aor:${user(i).impus[0]}`);
      assert.match(bound?.bindings[0]?.uri ?? '', new RegExp(`^sip:ue@127\\.0\\.0\\.1:${local[i]};transport=${transport}$`, 'i'));
    });
  }

  test('a UE whose K differs from the HSS does not register (SIPp sees a MAC failure and exits)', async () => {
    const impostor = { ...sippUser(user(2)), k: randomBytes(16).toString('hex') };
    const r = await runSipp(target('udp'), writeAkaScenario(impostor, f.dir), { transport: 'udp', localPort: local[2] as number, timeoutS: 5 });
    assert.notEqual(r.code, 0);
    assert.equal(await f.reg.store.get(`registrar:aor:${user(2).impus[0]}`), undefined);
  });

  test('a wrong K → 403 (hand-written UE, since SIPp 3.6.1 dies on the MAC failure: it skips the AUTN check and answers with RES = f2(wrong K, RAND))', async () => {
    const u = user(2);
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    try {
      const id = callId();
      const impu = u.impus[0] as string;
      const r1 = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 1, authorization: initialAuthorization(u.impi) }));
      assert.equal(r1.msg.status, 401, r1.text);
      const ch = r1.msg.wwwAuthenticate()[0] as DigestChallenge;
      const wrongRes = Milenage.fromOp(randomBytes(16), Buffer.from(u.op, 'hex')).f2345(parseAkaNonce(ch.nonce as string).rand).res;
      const authorization = credentials(ch, { username: u.impi, qop: 'auth' }, wrongRes);
      const r2 = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 2, authorization }));
      assert.equal(r2.text.split('\r\n')[0], 'SIP/2.0 403 Forbidden (Authentication Failed)');
      assert.equal(await f.reg.store.get(`registrar:aor:${impu}`), undefined);
    } finally {
      ue.close();
    }
  });

  test(`${LOAD_USERS} users × ${RE_REGISTRATIONS} re-registrations all succeed (each REGISTER 401 → 200 with a fresh challenge; UDP and TCP; ${PARALLEL} SIPp processes at a time)`,
    { timeout: 180_000 }, async () => {
      const before = await hssStats(f.hss);
      const [issued, kept] = [f.reg.stats.get('challenges_issued'), f.reg.stats.get('challenges_from_kept_vectors')];
      const results: Array<{ u: AkaUser; r: SippResult }> = [];
      let next = 0;
      const worker = async (): Promise<void> => {
        for (let i = next++; i < LOAD_USERS; i = next++) {
          const u = load[i] as AkaUser;
          const transport = i % 2 === 0 ? 'udp' : 'tcp';
          const scenario = writeRoundsScenario(sippUser(u), f.dir, { rounds: 1 + RE_REGISTRATIONS });
          results.push({ u, r: await runSipp(target(transport), scenario, { transport, localPort: local[5 + i] as number, timeoutS: 30 }) });
        }
      };
      await Promise.all(Array.from({ length: PARALLEL }, worker));
      assert.equal(results.length, LOAD_USERS);
      for (const { u, r } of results) assert.equal(r.code, 0, `${u.impi}: ${failure(r)}`);
      const registrations = LOAD_USERS * (1 + RE_REGISTRATIONS);
      const after = await hssStats(f.hss);
      // A fresh vector per 401 — from its own MAR or kept from an earlier MAA of the user (never one vector twice) —
      // and one SAR (REGISTRATION, then RE_REGISTRATION) per 200.
      const fromKept = f.reg.stats.get('challenges_from_kept_vectors') - kept;
      assert.equal(f.reg.stats.get('challenges_issued') - issued, registrations);
      assert.equal(after.mar - before.mar + fromKept, registrations, 'every challenge is a MAR or a kept vector');
      assert.ok(after.mar - before.mar <= Math.ceil(registrations / 2), `re-registrations mostly use kept vectors: ${after.mar - before.mar} MARs`);
      assert.ok(after.vectors_issued - before.vectors_issued >= registrations);
      assert.equal(after.sar - before.sar, registrations);
      const bindings = await adminBindings(f.reg);
      for (const u of load) {
        const b = bindings.find((x) => x.aor === u.impus[0]);
        assert.equal(b?.contacts.length, 1, `${u.impi}: one binding, refreshed in place`);
      }
    });

  test('de-registration: after SIPp registers, a SIPp REGISTER with Expires: 0 (after 401 → authentication) → 200 and the binding is gone', async () => {
    const u = user(3);
    const aor = u.impus[0] as string;
    const registered = await runSipp(target('udp'), writeAkaScenario(sippUser(u), f.dir), { transport: 'udp', localPort: local[3] as number });
    assert.equal(registered.code, 0, failure(registered));
    assert.equal((await adminBindings(f.reg)).find((b) => b.aor === aor)?.contacts.length, 1);
    const before = await hssStats(f.hss);
    const dereg = writeRoundsScenario(sippUser(u), f.dir, { rounds: 1, lastExpires: 0 });
    // The same Contact (transport and port) as the registration, now with Expires: 0.
    const r = await runSipp(target('udp'), dereg, { transport: 'udp', localPort: local[3] as number });
    assert.equal(r.code, 0, failure(r));
    assert.equal((await adminBindings(f.reg)).find((b) => b.aor === aor), undefined);
    assert.equal(await f.reg.store.get(`registrar:aor:${aor}`), undefined);
    assert.equal((await hssStats(f.hss)).sar - before.sar, 1, 'SAR USER_DEREGISTRATION');
  });
});
