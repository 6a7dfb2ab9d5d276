/**
 * Static mappings (TS 23.280 §10.6.2.2 precondition, NOTE 2): CSV with several rows per partner IMPI, every bad row
 * reported by line number with nothing loaded, the Store layout (`mms:map:impi:`, `mms:rev:`), the admin functions
 * and both lookups of the MappingSource, on the memory store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../lib/store/store.ts';
import type { Store } from '../../lib/store/store.ts';
import { importMappingsCsv, parseMappingsCsv } from '../../mms/mappings-csv.ts';
import {
  StoreMappingSource, addMapping, chainMappingSources, getMapping, listMappings, putMappings, removeMapping,
} from '../../mms/mappings.ts';
import type { IdentityMapping } from '../../mms/mappings.ts';
import { MmsError, formatProblem } from '../../mms/errors.ts';

const CSV = `# partner MC system "partner.example": inbound migrating users
primary_realm,partner_impi,partner_impu,primary_impi,primary_impu
primary.example,alice.mig@partner.example,sip:alice.mig@partner.example,alice@primary.example,sip:alice@primary.example

primary.example,alice.mig@partner.example,tel:+4930111,alice@primary.example,tel:+4989222
"primary.example","bob.mig@partner.example","sip:bob.mig@partner.example;user=""x""",bob@primary.example,sip:bob@primary.example\r
`;

async function memory(): Promise<Store> {
  return openStore('memory', { ephemeral: true });
}

function mmsError(code: MmsError['code'], lines?: number[]): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof MmsError, String(e));
    assert.equal(e.code, code, e.message);
    if (lines) assert.deepEqual(e.problems.map((p) => p.line), lines, e.message);
    return true;
  };
}

test('CSV: columns in any order, several rows per partner IMPI, quoting, comments and blank lines', () => {
  const inputs = parseMappingsCsv(CSV);
  assert.deepEqual(inputs, [
    { line: 3, mapping: { partnerImpi: 'alice.mig@partner.example', primaryImpi: 'alice@primary.example', primaryRealm: 'primary.example', impus: [
      { partner: 'sip:alice.mig@partner.example', primary: 'sip:alice@primary.example' },
      { partner: 'tel:+4930111', primary: 'tel:+4989222' },
    ] } },
    { line: 6, mapping: { partnerImpi: 'bob.mig@partner.example', primaryImpi: 'bob@primary.example', primaryRealm: 'primary.example', impus: [
      { partner: 'sip:bob.mig@partner.example;user="x"', primary: 'sip:bob@primary.example' },
    ] } },
  ]);
});

test('import → Store layout → lookups both ways → list → remove', async () => {
  const store = await memory();
  assert.deepEqual(await importMappingsCsv(store, CSV), { mappings: 2, impus: 3, removed: 0, removedImpis: [] });
  assert.deepEqual(await store.keys('mms:'), [
    'mms:map:impi:alice.mig@partner.example', 'mms:map:impi:bob.mig@partner.example', 'mms:rev:alice@primary.example', 'mms:rev:bob@primary.example',
  ]);
  assert.deepEqual(await store.get('mms:map:impi:alice.mig@partner.example'), {
    primaryImpi: 'alice@primary.example', primaryRealm: 'primary.example',
    impus: [{ partner: 'sip:alice.mig@partner.example', primary: 'sip:alice@primary.example' }, { partner: 'tel:+4930111', primary: 'tel:+4989222' }],
  });
  assert.deepEqual(await store.get('mms:rev:alice@primary.example'), { partnerImpi: 'alice.mig@partner.example' });
  const source = new StoreMappingSource(store);
  const alice = await source.byPartnerImpi('alice.mig@partner.example');
  assert.equal(alice?.kind, 'static');
  assert.deepEqual(await source.byPrimaryImpi('alice@primary.example'), alice);
  assert.equal(await source.byPartnerImpi('alice@primary.example'), undefined);
  assert.equal(await source.byPrimaryImpi('nobody@primary.example'), undefined);
  assert.deepEqual((await listMappings(store)).map((m) => m.partnerImpi), ['alice.mig@partner.example', 'bob.mig@partner.example']);
  assert.equal(await removeMapping(store, 'alice.mig@partner.example'), true);
  assert.equal(await removeMapping(store, 'alice.mig@partner.example'), false);
  assert.deepEqual(await store.keys('mms:'), ['mms:map:impi:bob.mig@partner.example', 'mms:rev:bob@primary.example']);
  await store.close();
});

test('every bad row is reported by line number and nothing is loaded', async () => {
  const store = await memory();
  await addMapping(store, { partnerImpi: 'carol.mig@partner.example', primaryImpi: 'carol@primary.example', primaryRealm: 'primary.example', impus: [{ partner: 'sip:carol.mig@partner.example', primary: 'sip:carol@primary.example' }] });
  const before = await store.keys('mms:');
  const bad = [
    'partner_impi,partner_impu,primary_impi,primary_impu,primary_realm',
    'alice.mig@partner.example,sip:alice.mig@partner.example,alice@primary.example,sip:alice@primary.example,primary.example', // 2 ok
    'alice.mig@partner.example,http://alice,alice@primary.example,sip:a2@primary.example,primary.example', // 3 bad IMPU
    'dave@partner.example,sip:dave@partner.example,dave@primary.example,sip:dave@primary.example', // 4 field count
    'alice.mig@partner.example,tel:+4930111,alice@primary.example,tel:+4989222,other.example', // 5 realm differs
    'erin@partner.example,sip:alice.mig@partner.example,erin@primary.example,sip:erin@primary.example,primary.example', // 6 IMPU taken
    'frank@partner.example,sip:frank@partner.example,alice@primary.example,sip:f@primary.example,primary.example', // 7 primary IMPI taken
    'no-at-sign,sip:g@partner.example,g@primary.example,sip:g@primary.example,bad_realm!', // 8 two bad fields
    'hank@partner.example,sip:hank@partner.example,carol@primary.example,sip:h@primary.example,primary.example', // 9 clashes with the store
  ].join('\n');
  await assert.rejects(importMappingsCsv(store, bad), mmsError('ERR_MMS_INPUT', [3, 4, 5, 6, 7, 8, 8]));
  assert.deepEqual(await store.keys('mms:'), before);
  const err = await importMappingsCsv(store, bad).then(() => assert.fail('must reject'), (e: unknown) => e as MmsError);
  assert.match(err.message, /^line 3: partner_impu: must be a sip:, sips: or tel: URI$/m);
  assert.match(formatProblem(err.problems[2] ?? { message: '' }), /^line 5: primary_realm: other\.example differs from primary\.example on line 2/);
  // Without the row-level problems, the store clash (line 9) is what remains.
  const clash = bad.split('\n').filter((_, i) => i === 0 || i === 1 || i === 8).join('\n');
  await assert.rejects(importMappingsCsv(store, clash), mmsError('ERR_MMS_CONFLICT', [3]));
  assert.deepEqual(await store.keys('mms:'), before);
  await store.close();
});

test('header problems are reported on line 1 (or the header\'s line)', () => {
  assert.throws(() => parseMappingsCsv('partner_impi,partner_impu,primary_impi,primary_impu,realm\n'), (e: unknown) => {
    assert.ok(e instanceof MmsError);
    assert.deepEqual(e.problems.map(formatProblem), ['line 1: unknown column "realm" (column 5)', 'line 1: missing column primary_realm']);
    return true;
  });
  assert.throws(() => parseMappingsCsv(''), mmsError('ERR_MMS_INPUT', [1]));
  assert.throws(() => parseMappingsCsv('# c\n\npartner_impi,"x\n'), mmsError('ERR_MMS_INPUT', [3]));
  assert.throws(() => parseMappingsCsv('a,"b"c\n'), mmsError('ERR_MMS_INPUT', [1]));
});

test('replaceAll: the file becomes the whole configuration', async () => {
  const store = await memory();
  await importMappingsCsv(store, CSV);
  const only = 'partner_impi,partner_impu,primary_impi,primary_impu,primary_realm\nbob.mig@partner.example,sip:bob2@partner.example,bob@primary.example,sip:bob@primary.example,primary.example\n';
  assert.deepEqual(await importMappingsCsv(store, only, true), { mappings: 1, impus: 1, removed: 1, removedImpis: ['alice.mig@partner.example'] });
  assert.deepEqual(await store.keys('mms:'), ['mms:map:impi:bob.mig@partner.example', 'mms:rev:bob@primary.example']);
  assert.deepEqual((await getMapping(store, 'bob.mig@partner.example'))?.impus, [{ partner: 'sip:bob2@partner.example', primary: 'sip:bob@primary.example' }]);
  await store.close();
});

test('admin: re-pointing a partner IMPI moves its reverse entry; a taken primary IMPI is a conflict; bad input names fields', async () => {
  const store = await memory();
  const a = { partnerImpi: 'a@partner.example', primaryImpi: 'a@primary.example', primaryRealm: 'primary.example', impus: [{ partner: 'sip:a@partner.example', primary: 'sip:a@primary.example' }] };
  await addMapping(store, a);
  await addMapping(store, { ...a, primaryImpi: 'a2@primary.example' });
  assert.deepEqual(await store.keys('mms:rev:'), ['mms:rev:a2@primary.example']);
  await assert.rejects(addMapping(store, { ...a, partnerImpi: 'b@partner.example', primaryImpi: 'a2@primary.example' }), mmsError('ERR_MMS_CONFLICT'));
  await assert.rejects(addMapping(store, { ...a, primaryRealm: 'not a realm', impus: [] }), (e: unknown) => {
    assert.ok(e instanceof MmsError && e.code === 'ERR_MMS_INPUT');
    assert.deepEqual(e.problems.map((p) => p.field), ['primaryRealm', 'impus']);
    return true;
  });
  await assert.rejects(addMapping(store, { ...a, impus: [a.impus[0] as IdentityMapping['impus'][0], { partner: 'sip:a@partner.example', primary: 'sip:x@primary.example' }] }),
    mmsError('ERR_MMS_INPUT'));
  // A stale reverse entry (its forward record names another primary IMPI) neither resolves nor blocks.
  await store.set('mms:rev:stale@primary.example', { partnerImpi: 'a@partner.example' });
  assert.equal(await new StoreMappingSource(store).byPrimaryImpi('stale@primary.example'), undefined);
  await addMapping(store, { ...a, partnerImpi: 'c@partner.example', primaryImpi: 'stale@primary.example', impus: [{ partner: 'sip:c@partner.example', primary: 'sip:c@primary.example' }] });
  assert.equal((await new StoreMappingSource(store).byPrimaryImpi('stale@primary.example'))?.partnerImpi, 'c@partner.example');
  await store.close();
});

test('a Store failure half-way through an import is rolled back', async () => {
  const store = await memory();
  await importMappingsCsv(store, CSV);
  const before = await Promise.all((await store.keys('mms:')).map(async (k) => [k, await store.get(k)]));
  let writes = 0;
  // The memory store keeps private fields, so the wrapper delegates each method instead of inheriting.
  const failing: Store = {
    kind: store.kind,
    get: (k) => store.get(k),
    set: async (key, value) => {
      if (++writes === 3) throw new Error('disk full');
      return store.set(key, value);
    },
    setIfAbsent: (k, v, o) => store.setIfAbsent(k, v, o),
    delete: (k) => store.delete(k),
    take: (k) => store.take(k),
    compareAndDelete: (k, v) => store.compareAndDelete(k, v),
    keys: (p) => store.keys(p),
    setSqn: (k, v) => store.setSqn(k, v),
    getSqn: (k) => store.getSqn(k),
    allocateSqn: (k, n) => store.allocateSqn(k, n),
    resyncSqn: (k, s, d) => store.resyncSqn(k, s, d),
    close: () => store.close(),
  };
  const next = CSV.replaceAll('tel:+4930111', 'tel:+4930999').replaceAll('bob@primary.example', 'robert@primary.example');
  await assert.rejects(importMappingsCsv(failing, next, true), /disk full/);
  assert.deepEqual(await Promise.all((await store.keys('mms:')).map(async (k) => [k, await store.get(k)])), before);
  await store.close();
});

test('chained sources: dynamic bindings before static configuration', async () => {
  const store = await memory();
  await importMappingsCsv(store, CSV);
  const dynamic: IdentityMapping = { kind: 'dynamic', partnerImpi: 'alice.mig@partner.example', primaryImpi: 'alice@primary.example', primaryRealm: 'primary.example', impus: [] };
  const chain = chainMappingSources(
    { byPartnerImpi: async (i) => (i === dynamic.partnerImpi ? dynamic : undefined), byPrimaryImpi: async () => undefined },
    new StoreMappingSource(store),
  );
  assert.equal((await chain.byPartnerImpi('alice.mig@partner.example'))?.kind, 'dynamic');
  assert.equal((await chain.byPartnerImpi('bob.mig@partner.example'))?.kind, 'static');
  assert.equal((await chain.byPrimaryImpi('alice@primary.example'))?.kind, 'static');
  assert.equal(await chain.byPartnerImpi('x@partner.example'), undefined);
  await store.close();
});

test('putMappings refuses the same partner IMPI twice in one batch', async () => {
  const store = await memory();
  const m = { partnerImpi: 'a@partner.example', primaryImpi: 'a@primary.example', primaryRealm: 'primary.example', impus: [{ partner: 'sip:a@partner.example', primary: 'sip:a@primary.example' }] };
  await assert.rejects(putMappings(store, [{ mapping: m, line: 2 }, { mapping: { ...m, primaryImpi: 'b@primary.example' }, line: 3 }]), mmsError('ERR_MMS_INPUT', [3]));
  assert.deepEqual(await store.keys(''), []);
  await store.close();
});
