/**
 * DESIGN §4 interop: SIPp (Debian sip-tester 3.6.1) as an AKA UE registers with our registrar — REGISTER (24.229
 * initial form) → 401 → REGISTER with the AKAv1-MD5 response → 200 — over UDP and over TCP, against a real HSS run
 * with `--rand-policy sipp361` (SIPp hashes RES with strlen) and subscribers provisioned with OP (SIPp cannot take
 * OPc; nor K/OP starting with 0x00, see sippSafeUser). A UE with the wrong K fails: the 200 is not a given.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { RunningHss } from '../../hss/run.ts';
import type { RunningRegistrar } from '../../registrar/server.ts';
import { freePorts } from '../helpers/ports.ts';
import { runSipp, writeAkaScenario, type SippUser } from '../helpers/sipp.ts';
import { DOMAIN, akaUser, hssPort, sipPort, startTestHss, startTestRegistrar, subscribersCsv, tempDir, type AkaUser } from './helpers.ts';

/** SIPp 3.6.1 reads a K or OP whose first octet is 0x00 wrongly (a MAC failure follows; 0x00 elsewhere is fine). */
function sippSafeUser(name: string): AkaUser {
  for (;;) {
    const u = { ...akaUser(name), impus: [`sip:${name}@${DOMAIN}`] };
    if (!u.k.startsWith('00') && !u.op.startsWith('00')) return u;
  }
}

const users: AkaUser[] = Array.from({ length: 4 }, (_, i) => sippSafeUser(`sipp${i}`));
const sippUser = (u: AkaUser): SippUser => ({ domain: DOMAIN, impi: u.impi, impu: u.impus[0] as string, k: u.k, op: u.op, amf: u.amf });

describe('DESIGN §4: SIPp registers AKA users with the registrar', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let hss: RunningHss;
  let reg: RunningRegistrar;
  let local: number[];

  before(async () => {
    tmp = await tempDir();
    hss = await startTestHss(tmp.dir, subscribersCsv(users), { randPolicy: 'sipp361' });
    reg = await startTestRegistrar(tmp.dir, [hssPort(hss)]);
    local = await freePorts(3);
  });
  after(async () => {
    await reg?.close();
    await hss?.close();
    await tmp?.remove();
  });

  for (const [i, transport] of [[0, 'udp'], [1, 'tcp']] as const) {
    test(`over ${transport.toUpperCase()}: REGISTER → 401 → REGISTER → 200`, async () => {
      const port = sipPort(reg, transport === 'udp' ? 'UDP' : 'TCP');
      const r = await runSipp(`127.0.0.1:${port}`, writeAkaScenario(sippUser(users[i] as AkaUser), tmp.dir), { transport, localPort: local[i] as number });
      assert.equal(r.code, 0, `sipp exit ${r.code}\n${r.output.slice(-3000)}`);
      const bound = await reg.store.get<{ bindings: Array<{ uri: string }> }>(`registrar:aor:${(users[i] as AkaUser).impus[0]}`);
      assert.match(bound?.bindings[0]?.uri ?? '', new RegExp(`^sip:ue@127\\.0\\.0\\.1:${local[i]};transport=${transport}$`, 'i'));
    });
  }

  test('a UE whose K differs from the HSS does not register (SIPp sees a MAC failure)', async () => {
    const impostor = { ...sippUser(users[2] as AkaUser), k: randomBytes(16).toString('hex') };
    const r = await runSipp(`127.0.0.1:${sipPort(reg, 'UDP')}`, writeAkaScenario(impostor, tmp.dir), { transport: 'udp', localPort: local[2] as number, timeoutS: 5 });
    assert.notEqual(r.code, 0);
    assert.equal(await reg.store.get(`registrar:aor:${(users[2] as AkaUser).impus[0]}`), undefined);
  });
});
