/**
 * `mcx testbed --once` (DESIGN §2 row `deploy/`, TS 23.280 §10.6.2.2): every role in one process on loopback, the
 * demo UE registers under partner identities with its primary ISIM, the ladder shows steps 2–13 in order with the 401
 * and the 200, exit 0. A second run on the same `--dir` reuses the PKI, the user and the ISIM state, and its
 * registration is still fresh (no resync: the HSS's SQN moved on with the ISIM's). Bad options exit 2, each named.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMcx } from '../helpers/process.ts';

interface Run {
  code: number | null;
  out: string;
}

async function testbedOnce(dir: string, extra: string[] = []): Promise<Run> {
  const p = startMcx(['testbed', '--once', '--ports', 'auto', '--dir', dir, ...extra]);
  const code = await p.exited;
  return { code, out: p.output() };
}

/** The ladder printed for `flow` (from its heading to the result line). */
function ladderOf(out: string, flow: 'static' | 'dynamic'): string {
  const start = out.indexOf(`(${flow} configuration): message ladder`);
  return start < 0 ? '' : out.slice(start, out.indexOf('\nresult: ', start));
}

/** The step numbers of a flow's ladder lines, in printed order. */
function ladderSteps(out: string, flow: 'static' | 'dynamic' = 'static'): number[] {
  return [...ladderOf(out, flow).matchAll(/^ {2}step +(\d+) {2}/gm)].map((m) => Number(m[1]));
}

/** SQN_MS of the ISIM file: the highest SEQ over every IND slot. */
async function highestSeq(file: string): Promise<bigint> {
  const state = JSON.parse(await readFile(file, 'utf8')) as { sqn: { seqMs: string[] } };
  return state.sqn.seqMs.reduce((m, s) => (BigInt(s) > m ? BigInt(s) : m), 0n);
}

describe('mcx testbed --once: the static flow end to end in one command', () => {
  let dir: string;
  let first: Run;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-testbed-'));
    first = await testbedOnce(dir);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('exit 0; the ladder has steps 2…13 in order, each logged by a role, with the 401 and the 200', () => {
    assert.equal(first.code, 0, first.out);
    assert.deepEqual(ladderSteps(first.out), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    assert.doesNotMatch(first.out, /no role logged this step/);
    assert.match(first.out, /^ {2}step 11 .*\[401 Unauthorized, AKAv1-MD5 realm="partner\.mcx\.test"\]/m);
    assert.match(first.out, /^ {2}step 13 .*\[200 OK, Contact expires=\d+\]/m);
    assert.match(first.out, /^ {2}step {2}6 .*primary IMPI alice@primary\.mcx\.test.*\(logged by relay, hss\)$/m);
    assert.match(first.out, /^ {2}step {2}9 .*partner IMPI alice\.mig@partner\.mcx\.test/m);
    assert.match(first.out, /^result: OK — sip:alice\.mig@partner\.mcx\.test registered \(200 OK\)/m);
  });

  test('§10.6.2.3 beside it: carol logs in, gets a migration configuration, registers as the partner identity it names; steps 1…13', () => {
    assert.match(first.out, /^ {2}login {10}MC service user carol authenticated at https:\/\/127\.0\.0\.1:\d+ \(authorization code \+ PKCE S256\)/m);
    assert.match(first.out, /^ {2}token-exchange security token for https:/m);
    assert.match(first.out, /^ {2}jwt-bearer {5}partner access token from https:/m);
    const cfg = /^ {2}configuration {2}partner identities (mig-[0-9a-f]{12}@partner\.mcx\.test) sip:\1 at sip:127\.0\.0\.1:(\d+);transport=udp/m.exec(first.out);
    assert.ok(cfg, first.out);
    assert.match(first.out, new RegExp(`^demo: ${cfg[1]?.replace(/\./g, '\\.')} \\(ISIM of carol@primary\\.mcx\\.test\\) registers with the partner SIP core at udp://127\\.0\\.0\\.1:${cfg[2]}$`, 'm'));
    assert.deepEqual(ladderSteps(first.out, 'dynamic'), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    const dynamic = ladderOf(first.out, 'dynamic');
    assert.doesNotMatch(dynamic, /no role logged this step/);
    assert.match(dynamic, /^ {2}step {2}5 {2}partner MMS → primary MMS: .*\(logged by partner-mms, primary-mms\)$/m);
    assert.match(dynamic, /^ {2}step {2}6 {2}primary MMS → primary HSS \(via SIP core\/IMS\).*primary IMPI carol@primary\.mcx\.test.*\(logged by primary-mms, relay, hss\)$/m);
    assert.match(first.out, /^result: OK — sip:mig-[0-9a-f]{12}@partner\.mcx\.test registered \(200 OK\) by dynamic configuration [0-9a-f-]{36} /m);
    assert.match(first.out, /^migration ended: configuration [0-9a-f-]{36} deleted \(--once\)$/m);
  });

  test('--dir holds the PKI, the demo user (K/OP without 0x00 octets, allowed partner), the mapping and the ISIM', async () => {
    const user = JSON.parse(await readFile(join(dir, 'ue', 'alice.json'), 'utf8')) as { k: string; op: string; partner: { impi: string } };
    for (const key of [user.k, user.op]) assert.ok(!Buffer.from(key, 'hex').includes(0), 'SIPp 3.6.1 reads K/OP as C strings');
    assert.equal(user.partner.impi, 'alice.mig@partner.mcx.test');
    // alice migrates by static configuration only, carol by dynamic only (DESIGN §2.7).
    const subscribers = await readFile(join(dir, 'subscribers.csv'), 'utf8');
    assert.match(subscribers, /^alice@primary\.mcx\.test,.*,static:partner\.mcx\.test$/m);
    assert.match(subscribers, /^carol@primary\.mcx\.test,.*,dynamic:partner\.mcx\.test$/m);
    assert.match(await readFile(join(dir, 'mappings.csv'), 'utf8'), /^alice\.mig@partner\.mcx\.test,sip:alice\.mig@partner\.mcx\.test,alice@primary\.mcx\.test,/m);
    assert.ok((await highestSeq(join(dir, 'ue', 'alice.isim.json'))) > 0n);
  });

  test('without --partners: the one-partner layout as it always was (systems primary and partner, its files and state directories, no dave)', async () => {
    assert.deepEqual((await readdir(dir)).sort(), ['mappings.csv', 'pki', 'state', 'subscribers.csv', 'ue', 'users.csv']);
    assert.deepEqual((await readdir(join(dir, 'ue'))).sort(), ['alice.isim.json', 'alice.json', 'bob.json', 'carol.isim.json', 'carol.json', 'carol.password']);
    assert.deepEqual((await readdir(join(dir, 'state'))).sort(), ['hss', 'mms', 'partner-idms', 'primary-idms', 'primary-mms', 'registrar']);
    const manifest = JSON.parse(await readFile(join(dir, 'pki', 'manifest.json'), 'utf8')) as { systems: Array<{ name: string; realm: string }> };
    assert.deepEqual(manifest.systems.map((s) => [s.name, s.realm]), [['primary', 'primary.mcx.test'], ['partner', 'partner.mcx.test']]);
    assert.doesNotMatch(first.out, /partner-a|partner-b| — partner/, 'no lines of the multi-partner layout');
  });

  test('a second run on the same --dir reuses PKI and ISIM, and its vector is fresh (SQN moved on, no resync)', async () => {
    const manifest = await readFile(join(dir, 'pki', 'manifest.json'), 'utf8');
    const user = await readFile(join(dir, 'ue', 'alice.json'), 'utf8');
    const seqBefore = await highestSeq(join(dir, 'ue', 'alice.isim.json'));
    const second = await testbedOnce(dir);
    assert.equal(second.code, 0, second.out);
    assert.deepEqual(ladderSteps(second.out), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    assert.doesNotMatch(second.out, /resynchronisation|auts/);
    assert.equal(await readFile(join(dir, 'pki', 'manifest.json'), 'utf8'), manifest, 'PKI reused');
    assert.equal(await readFile(join(dir, 'ue', 'alice.json'), 'utf8'), user, 'same K/OP');
    assert.ok((await highestSeq(join(dir, 'ue', 'alice.isim.json'))) > seqBefore, 'the ISIM accepted a higher SQN');
  });

  test('a PKI of manifest version 1 (leaves without realm and role) is regenerated by the testbed, which says so in one line', async () => {
    const file = join(dir, 'pki', 'manifest.json');
    const old = await readFile(file, 'utf8');
    await writeFile(file, old.replace('"version": 2', '"version": 1'));
    const run = await testbedOnce(dir);
    assert.equal(run.code, 0, run.out);
    assert.equal(run.out.match(/^testbed: .* was of an older PKI version .*; regenerated it$/gm)?.length, 1, run.out);
    const now = await readFile(file, 'utf8');
    assert.match(now, /"version": 2,/);
    const caOf = (text: string) => (JSON.parse(text) as { systems: Array<{ ca: { sha256: string } }> }).systems[0]?.ca.sha256;
    assert.notEqual(caOf(now), caOf(old), 'new certificates');
  });

  test('bad options: exit 2, every bad option named', async () => {
    const bad = await testbedOnce(dir, ['--ports', '1,2', '--rand-policy', 'nope', '--primary-realm', 'a b', '--listen', 'localhost', '--store', 'disk', '--digest-algorithms', 'MD5,SHA-1',
      '--partners', '9']);
    assert.equal(bad.code, 2, bad.out);
    for (const opt of ['--ports', '--rand-policy', '--primary-realm', '--listen', '--store', '--digest-algorithms', '--partners']) assert.match(bad.out, new RegExp(`${opt}: `));
    const same = await testbedOnce(dir, ['--partner-realm', 'primary.mcx.test']);
    assert.equal(same.code, 2, same.out);
    assert.match(same.out, /--partner-realm: must differ from --primary-realm/);
  });
});
