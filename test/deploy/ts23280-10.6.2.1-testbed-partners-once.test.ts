/**
 * `mcx testbed --once --partners 2` (TS 23.280 §10.6.2.1, TS 33.180 §5.1.4.2), one `mcx` process on a fresh
 * directory: the primary system and partner systems A and B (realms derived from `--partner-realm`), and the ladder of
 * every demo — alice statically to A; carol dynamically to A and to B (one login, a token exchange per partner IdMS),
 * registered in both at once with one ISIM; dave refused at B by the primary MMS and the HSS — then exit 0. The
 * directory holds each partner's PKI (trusting the primary, not each other), mapping file and the users.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMcx } from '../helpers/process.ts';

/** The ladder printed under `heading` (to the next result line). */
function ladderAfter(out: string, heading: string): string {
  const start = out.indexOf(heading);
  return start < 0 ? '' : out.slice(start, out.indexOf('\nresult: ', start));
}

/** Its step numbers, in printed order. */
function steps(ladder: string): number[] {
  return [...ladder.matchAll(/^ {2}step +(\d+) {2}/gm)].map((m) => Number(m[1]));
}

describe('mcx testbed --once --partners 2: every demo\'s ladder, then exit 0', () => {
  let dir: string;
  let code: number | null;
  let out: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-testbed-partners-'));
    const p = startMcx(['testbed', '--once', '--ports', 'auto', '--partners', '2', '--dir', dir]);
    code = await p.exited;
    out = p.output();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('exit 0, four results OK, no step missing', () => {
    assert.equal(code, 0, out);
    assert.equal(out.match(/^result: OK — /gm)?.length, 4, out);
    assert.doesNotMatch(out, /no role logged this step|FAILED/);
  });

  test('alice statically to partner A: steps 2…13 through A\'s SIP core and MMS, the relay and the HSS', () => {
    const l = ladderAfter(out, 'TS 23.280 §10.6.2.2 (static configuration): message ladder — partner-a.mcx.test\n');
    assert.deepEqual(steps(l), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    assert.match(l, /^ {2}step {2}5 .*\(logged by partner-a-mms, relay\)$/m);
    assert.match(l, /^ {2}step 13 .*\[200 OK, Contact expires=\d+\]/m);
    assert.match(out, /^result: OK — sip:alice\.mig@partner-a\.mcx\.test registered \(200 OK\)/m);
  });

  test('carol to A and B: one login, a token exchange per partner IdMS, a ladder of steps 1…13 per partner, both bindings live at once', () => {
    assert.equal(out.match(/^ {2}login {10}MC service user carol authenticated/gm)?.length, 1, 'one login');
    const exchanges = [...out.matchAll(/^ {2}token-exchange security token for (https:\/\/\S+) /gm)].map((m) => m[1]);
    const idms = new Set([...out.matchAll(/^ {2}jwt-bearer {5}partner access token from (https:\/\/\S+) /gm)].map((m) => m[1]));
    assert.equal(new Set(exchanges.slice(0, 2)).size, 2, 'carol\'s two security tokens name two partner IdMSs');
    for (const e of exchanges.slice(0, 2)) assert.ok(idms.has(e), `the security token for ${e} went to that IdMS`);
    for (const realm of ['partner-a.mcx.test', 'partner-b.mcx.test']) {
      const l = ladderAfter(out, `TS 23.280 §10.6.2.3 (dynamic configuration): message ladder — ${realm}\n`);
      assert.deepEqual(steps(l), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], realm);
      const tag = realm.split('.')[0] as string;
      assert.match(l, new RegExp(`^ {2}step {2}5 {2}partner MMS → primary MMS: .*\\(logged by ${tag}-mms, primary-mms\\)$`, 'm'));
      assert.match(l, new RegExp(`^ {2}step 11 .*\\[401 Unauthorized, AKAv1-MD5 realm="${realm.replace(/\./g, '\\.')}"\\]`, 'm'));
      assert.match(out, new RegExp(`^ {2}${realm.replace(/\./g, '\\.')} +registrar binding sip:mig-[0-9a-f]{12}@${realm.replace(/\./g, '\\.')} live`, 'm'));
    }
    assert.match(out, /^demo: carol is registered in 2 partner systems at once with one ISIM/m);
    assert.equal(out.match(/^migration ended: configuration [0-9a-f-]{36} deleted \(--once\)$/gm)?.length, 2);
  });

  test('dave refused at B: migration_not_allowed with the primary MMS\'s reason, then a challenge and 403 with the HSS\'s (5004)', () => {
    assert.match(out, /^ {2}configuration {2}refused by the MMS of partner-b\.mcx\.test: 403 migration_not_allowed$/m);
    assert.match(out, /^ {2}primary MMS {4}migration refused: .*partner realm partner-b\.mcx\.test\)$/m);
    const l = ladderAfter(out, 'TS 23.280 §10.6.2.2 (static configuration): message ladder — partner-b.mcx.test (refused)\n');
    assert.match(l, /^ {2}step 11 .*\[401 Unauthorized, AKAv1-MD5/m);
    assert.match(l, /^ {2}final {10}\[403 Forbidden/m);
    assert.match(l, /^ {2}primary HSS {4}MAR: realm not allowed .*5004 DIAMETER_ERROR_ROAMING_NOT_ALLOWED \(IMPI dave@primary\.mcx\.test, visited partner-b\.mcx\.test, path static\)$/m);
    assert.match(out, /^result: OK — dave refused at partner-b\.mcx\.test/m);
  });

  test('the directory: a PKI system per partner trusting the primary only, a mapping file per partner MMS, and the users\' files', async () => {
    const manifest = JSON.parse(await readFile(join(dir, 'pki', 'manifest.json'), 'utf8')) as { systems: Array<{ name: string; realm: string }> };
    assert.deepEqual(manifest.systems.map((s) => [s.name, s.realm]), [['primary', 'primary.mcx.test'], ['partner-a', 'partner-a.mcx.test'], ['partner-b', 'partner-b.mcx.test']]);
    assert.deepEqual((await readdir(join(dir, 'pki', 'partner-a', 'trust'))).sort(), ['primary-ca.pem', 'primary-idms-signing.pem']);
    assert.deepEqual((await readdir(join(dir, 'pki', 'primary', 'trust'))).sort(), ['partner-a-ca.pem', 'partner-b-ca.pem']);
    assert.match(await readFile(join(dir, 'mappings-partner-a.csv'), 'utf8'), /^alice\.mig@partner-a\.mcx\.test,/m);
    assert.match(await readFile(join(dir, 'mappings-partner-b.csv'), 'utf8'), /^dave\.mig@partner-b\.mcx\.test,/m);
    await assert.rejects(access(join(dir, 'mappings.csv')), 'no file of the one-partner layout');
    const subscribers = await readFile(join(dir, 'subscribers.csv'), 'utf8');
    assert.match(subscribers, /^alice@primary\.mcx\.test,.*,static:partner-a\.mcx\.test$/m);
    assert.match(subscribers, /^carol@primary\.mcx\.test,.*,dynamic:partner-a\.mcx\.test dynamic:partner-b\.mcx\.test$/m);
    assert.match(subscribers, /^dave@primary\.mcx\.test,.*,dynamic:partner-a\.mcx\.test$/m);
    for (const f of ['alice.json', 'carol.json', 'dave.json', 'carol.isim.json', 'dave.isim.json']) await access(join(dir, 'ue', f));
  });
});
