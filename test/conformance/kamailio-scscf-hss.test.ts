/**
 * DESIGN §4 interop: a Kamailio 5.6 S-CSCF (cdp + ims_auth + ims_registrar_scscf) peers with our HSS over Cx, and
 * SIPp (Debian sip-tester 3.6.1) registers AKA users through it: REGISTER → 401 → REGISTER → 200, over UDP and TCP,
 * then 20 different subscribers in a row. The HSS runs with --rand-policy sipp361 (SIPp hashes RES with strlen).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../helpers/ports.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { startKamailio, type Kamailio } from '../helpers/kamailio.ts';
import { runSipp, writeAkaScenario, type SippUser } from '../helpers/sipp.ts';
import { decodeDiameter, startCapture } from '../helpers/tshark.ts';

const REALM = 'ims.mcx.test';
/** SIPp 3.6.1 reads aka_K/aka_OP as C strings: a key that starts with 0x00 is read as empty (MAC != XMAC). */
function sippKey(): string {
  for (;;) {
    const k = randomBytes(16);
    if (k[0] !== 0) return k.toString('hex');
  }
}

const USERS: SippUser[] = Array.from({ length: 21 }, (_, i) => ({
  domain: REALM,
  impi: `user${i}@${REALM}`,
  impu: `sip:user${i}@${REALM}`,
  k: sippKey(),
  op: sippKey(),
  amf: '8000',
}));

describe('DESIGN §4: Kamailio S-CSCF ↔ our HSS over Cx, SIPp as the AKA UE', () => {
  let dir: string;
  let hss: Proc;
  let kam: Kamailio;
  let ports: number[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-kam-hss-'));
    ports = await freePorts(5);
    const [dport, aport, sport, admin] = ports as [number, number, number, number, number];
    const csv = ['impi,impus,k,op,amf', ...USERS.map((u) => `${u.impi},${u.impu},${u.k},${u.op},${u.amf}`)].join('\n');
    await writeFile(join(dir, 'subscribers.csv'), csv + '\n');
    hss = startMcx(['hss', '--listen', `127.0.0.1:${dport}`, '--origin-host', `hss.${REALM}`, '--realm', REALM,
      '--subscribers', join(dir, 'subscribers.csv'), '--state-dir', join(dir, 'state'), '--admin', `127.0.0.1:${admin}`,
      '--rand-policy', 'sipp361']);
    await hss.waitFor(/hss: listening/, 30000);
    kam = await startKamailio({ realm: REALM, sipPort: sport, diameterPort: dport, acceptorPort: aport });
  });

  after(async () => {
    await kam?.stop();
    await hss?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('SIPp registers an AKA user through Kamailio over UDP; tshark decodes the Cx exchange cleanly', async () => {
    const dport = ports[0] as number;
    const capture = await startCapture(`tcp port ${dport}`);
    const r = await runSipp(`127.0.0.1:${kam.sipPort}`, writeAkaScenario(USERS[0] as SippUser, dir), { transport: 'udp', localPort: ports[4] as number });
    await capture.stop();
    assert.equal(r.code, 0, `sipp exit ${r.code}\n${r.output.slice(-3000)}\n--- kamailio ---\n${kam.proc.output().slice(-3000)}`);
    const d = await decodeDiameter(capture.file, dport);
    capture.remove();
    const kinds = d.fields.map(([cmd, req, rc]) => `${cmd}/${req === '1' || req === 'True' ? 'R' : 'A'}${rc ? `/${rc}` : ''}`);
    for (const k of ['303/R', '303/A/2001', '301/R', '301/A/2001']) assert.ok(kinds.includes(k), `${k} missing in ${kinds.join(' ')}`);
    assert.doesNotMatch(d.verbose, /Malformed/i);
    assert.doesNotMatch(d.expert, /Warning|Error/, d.expert);
  });

  test('SIPp registers an AKA user through Kamailio over TCP: 401 then 200', async () => {
    const r = await runSipp(`127.0.0.1:${kam.sipPort}`, writeAkaScenario(USERS[1] as SippUser, dir), { transport: 'tcp', localPort: (ports[4] as number) + 1 });
    assert.equal(r.code, 0, `sipp exit ${r.code}\n${r.output.slice(-3000)}\n--- kamailio ---\n${kam.proc.output().slice(-3000)}`);
  });

  test('a UE whose K differs from the HSS fails (SIPp sees a MAC failure): the 200 above is not a given', async () => {
    const impostor = { ...(USERS[2] as SippUser), k: sippKey() };
    const r = await runSipp(`127.0.0.1:${kam.sipPort}`, writeAkaScenario(impostor, join(dir)), { transport: 'udp', localPort: ports[4] as number, timeoutS: 5 });
    assert.notEqual(r.code, 0);
  });

  test('20 registrations of 20 different subscribers in a row, all 200', async () => {
    let ok = 0;
    for (const user of USERS.slice(1)) {
      const r = await runSipp(`127.0.0.1:${kam.sipPort}`, writeAkaScenario(user, dir), { transport: 'udp', localPort: ports[4] as number });
      assert.equal(r.code, 0, `${user.impi}: sipp exit ${r.code}\n${r.output.slice(-2000)}\n--- hss ---\n${hss.output().slice(-2000)}`);
      ok++;
    }
    assert.equal(ok, 20);
  });
});
