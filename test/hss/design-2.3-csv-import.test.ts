/**
 * DESIGN §2.3 bulk provisioning from CSV: a good file is imported (OP → OPc, password → HA1 only, SQN counter set),
 * bad rows are reported by line number with every problem at once and nothing is written, conflicts with the store
 * are found before the first write, and re-provisioning never lowers an SQN counter.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, type Store } from '../../lib/store/store.ts';
import { importSubscriberCsv, parseSubscriberCsv } from '../../hss/csv.ts';
import { SubscriberError, SubscriberRepo, sqnKey } from '../../hss/subscribers.ts';
import { K, OP, OPC, REALM } from './helpers.ts';

const GOOD = [
  '# primary system subscribers',
  'impi,impus,k,op,opc,amf,sqn,password,mcptt_id,allowed_partners',
  `alice@primary.example,sip:alice@primary.example tel:+15550100,${K},,${OPC},,,,mcptt-alice,partner.example other.example`,
  `bob@primary.example,"sip:bob@primary.example",${K},${OP},,8000,0000000003e0,,,`,
  '',
  'carol@primary.example,sip:carol@primary.example,,,,,,"pa,ss ""word""",,',
].join('\n');

function problemsOf(e: unknown): string[] {
  assert.ok(e instanceof SubscriberError, String(e));
  assert.equal(e.code, 'ERR_HSS_INPUT');
  return e.message.split('\n');
}

describe('design §2.3 CSV import', () => {
  let store: Store;
  let repo: SubscriberRepo;
  beforeEach(async () => {
    store = await openStore('memory', { ephemeral: true });
    repo = new SubscriberRepo(store, { realm: REALM });
  });
  afterEach(() => store.close());

  test('a good file: every row provisioned, OP converted to OPc, password kept only as HA1, SQN counter set', async () => {
    const recs = await importSubscriberCsv(repo, GOOD);
    assert.deepEqual(recs.map((r) => r.impi), ['alice@primary.example', 'bob@primary.example', 'carol@primary.example']);
    const alice = await repo.get('alice@primary.example');
    assert.deepEqual(alice?.impus, ['sip:alice@primary.example', 'tel:+15550100']);
    assert.deepEqual(alice?.allowed_partners, ['partner.example', 'other.example']);
    assert.equal(alice?.amf, '0000');
    assert.equal(await repo.impiOfMcpttId('mcptt-alice'), 'alice@primary.example');
    assert.equal(await repo.impiOfImpu('tel:+15550100'), 'alice@primary.example');
    const bob = await repo.get('bob@primary.example');
    assert.equal(bob?.opc, OPC);
    assert.ok(!JSON.stringify(bob).includes(OP));
    assert.equal(await store.getSqn(sqnKey('bob@primary.example')), 0x3e0n);
    assert.equal(await store.getSqn(sqnKey('alice@primary.example')), 0n);
    const carol = await repo.get('carol@primary.example');
    assert.equal(carol?.k, undefined);
    assert.equal(carol?.ha1?.realm, REALM);
    assert.ok(!JSON.stringify(carol).includes('pa,ss'));
  });

  test('bad rows are reported by line number, all of them, and nothing is imported', async () => {
    const csv = [
      'impi,impus,k,opc,amf,sqn',
      `ok@primary.example,sip:ok@primary.example,${K},${OPC},,`,
      `bad-k@primary.example,sip:badk@primary.example,1234,${OPC},,`,
      `ok2@primary.example,sip:ok2@primary.example,${K},${OPC},,`,
      `no-at-sign,sip:x@primary.example,${K},${OPC},80000,`,
      `,sip:y@primary.example,${K},${OPC},,zz`,
    ].join('\r\n');
    const e = await importSubscriberCsv(repo, csv).catch((x: unknown) => x);
    const lines = problemsOf(e);
    assert.ok(lines.some((l) => /^line 3: k: must be 32 hex digits/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^line 5: impi: /.test(l)));
    assert.ok(lines.some((l) => /^line 5: amf: must be 4 hex digits/.test(l)));
    assert.ok(lines.some((l) => /^line 6: impi: /.test(l)));
    assert.ok(lines.some((l) => /^line 6: sqn: must be 12 hex digits/.test(l)));
    assert.ok(!lines.some((l) => /^line [24]:/.test(l)), 'good rows are not blamed');
    assert.deepEqual(await store.keys('hss:'), [], 'nothing written');
    assert.equal(await store.getSqn(sqnKey('ok@primary.example')), undefined, 'no counter either');
  });

  test('both or neither of op/opc, and a row with more fields than the header, are row errors', () => {
    const { problems } = parseSubscriberCsv([
      'impi,impus,k,op,opc',
      `a@p.example,sip:a@p.example,${K},${OP},${OPC}`,
      `b@p.example,sip:b@p.example,${K},,`,
      `c@p.example,sip:c@p.example,${K},,${OPC},extra`,
    ].join('\n'));
    assert.deepEqual(problems.map((p) => p.line), [2, 3, 4]);
    assert.match(problems[0]?.message ?? '', /exactly one of op and opc/);
  });

  test('line numbers count physical lines, after a quoted field spanning two lines too', () => {
    const { problems } = parseSubscriberCsv(`impi,impus,password\n"x@p.example",sip:x@p.example,"two\nlines"\ny@p.example,not-a-uri,pw\n`);
    assert.deepEqual(problems.map((p) => [p.line, p.field]), [[4, 'impus']]);
  });

  test('header problems: unknown or duplicate column, missing impi', () => {
    assert.match(parseSubscriberCsv('impi,impus,ki\n').problems[0]?.message ?? '', /unknown column "ki"/);
    assert.match(parseSubscriberCsv('impi,impus,impi\n').problems[0]?.message ?? '', /appears twice/);
    assert.match(parseSubscriberCsv('impus,k\n').problems[0]?.message ?? '', /missing column impi/);
    assert.match(parseSubscriberCsv('').problems[0]?.message ?? '', /header row/);
  });

  test('conflicts inside the file and with the store are row errors found before any write', async () => {
    await repo.put({ impi: 'dave@primary.example', impus: ['sip:dave@primary.example'], k: K, opc: OPC });
    const csv = [
      'impi,impus,k,opc',
      `eve@primary.example,sip:eve@primary.example,${K},${OPC}`,
      `eve@primary.example,sip:eve2@primary.example,${K},${OPC}`,
      `frank@primary.example,sip:dave@primary.example,${K},${OPC}`,
      `gina@primary.example,sip:eve@primary.example,${K},${OPC}`,
      `dave@primary.example,sip:dave@primary.example,${K},${OPC}`,
    ].join('\n');
    const lines = problemsOf(await importSubscriberCsv(repo, csv).catch((x: unknown) => x));
    assert.ok(lines.some((l) => /^line 3: impi: .*earlier row/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^line 4: impus: sip:dave@primary.example belongs to dave@primary.example/.test(l)));
    assert.ok(lines.some((l) => /^line 5: impus: sip:eve@primary.example is also given to eve@primary.example/.test(l)));
    assert.ok(lines.some((l) => /^line 6: impi: dave@primary.example is already provisioned/.test(l)));
    assert.equal(await repo.get('eve@primary.example'), undefined);
    assert.deepEqual((await repo.list()).map((r) => r.impi), ['dave@primary.example']);
  });

  test('replace: an IMPU may move between subscribers of the same file; the SQN counter is never lowered', async () => {
    await repo.put({ impi: 'dave@primary.example', impus: ['sip:dave@primary.example', 'sip:shared@primary.example'], k: K, opc: OPC });
    await store.allocateSqn(sqnKey('dave@primary.example'), 10);
    const issued = await store.getSqn(sqnKey('dave@primary.example'));
    await importSubscriberCsv(repo, [
      'impi,impus,k,opc,sqn',
      `dave@primary.example,sip:dave@primary.example,${K},${OPC},000000000000`,
      `erin@primary.example,sip:shared@primary.example,${K},${OPC},`,
    ].join('\n'), { replace: true });
    assert.equal(await repo.impiOfImpu('sip:shared@primary.example'), 'erin@primary.example');
    assert.equal(await store.getSqn(sqnKey('dave@primary.example')), issued, 'counter kept above every SQN issued');
  });
});
