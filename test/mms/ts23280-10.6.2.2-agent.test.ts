/**
 * The partner MMS handler end to end without sockets (TS 23.280 §10.6.2.2 steps 3–10, digest §6.8 error mapping):
 * the mapping comes from a memory Store, `forward` stands for `DiameterNode.request`. Unknown IMPI → Experimental
 * 5001, IMPU mismatch → 5002 (nothing forwarded), primary unreachable / timed out → 3002 with the E bit, the primary's
 * own errors passed through, unreadable answers → 5012; each seed step is one log line with its number and node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { buildMaa, buildSaa, buildUar, cxErrorAnswer, experimental, readCxResult, readMaa } from '../../lib/diameter/cx/index.ts';
import { SessionIdGenerator } from '../../lib/diameter/ids.ts';
import { buildMessage, findAvp, getValue } from '../../lib/diameter/message.ts';
import { DiameterNodeError } from '../../lib/diameter/node-errors.ts';
import { errorAnswerFor } from '../../lib/diameter/answer.ts';
import { openStore } from '../../lib/store/store.ts';
import type { Store } from '../../lib/store/store.ts';
import { createTranslationAgent } from '../../mms/agent.ts';
import type { TranslationAgentOptions } from '../../mms/agent.ts';
import { StoreMappingSource, addMapping } from '../../mms/mappings.ts';
import { MmsStats } from '../../mms/stats.ts';
import { MAPPING, PRIMARY, SELF, captureLogger, partnerMar, XRES, partnerSar, primaryMaa, wire } from './fixtures.ts';

type Forward = TranslationAgentOptions['forward'];

async function setup(forward: Forward, logger = captureLogger().logger): Promise<{ store: Store; handle: (r: DiameterMessage) => Promise<DiameterMessage>; sent: DiameterMessage[] }> {
  const store = await openStore('memory', { ephemeral: true });
  const { kind: _kind, ...mapping } = MAPPING;
  await addMapping(store, mapping);
  const sent: DiameterMessage[] = [];
  const agent = createTranslationAgent({
    self: SELF,
    mappings: new StoreMappingSource(store),
    sessionIds: new SessionIdGenerator(SELF.originHost),
    logger,
    forward: (req, opts) => {
      sent.push(req);
      return forward(req, opts);
    },
  });
  return { store, handle: agent.handle, sent };
}

test('steps 3–10 on one MAR: forwarded with a 1 s timeout, answered with partner identities, each step logged', async () => {
  const { logger, lines } = captureLogger();
  let timeout = 0;
  const { store, handle, sent } = await setup(async (req, opts) => {
    timeout = opts.timeoutMs;
    return primaryMaa(req, 2);
  }, logger);
  const partner = partnerMar({ n: 2 });
  const answer = wire(await handle(partner));
  assert.equal(timeout, 1000);
  assert.equal(sent.length, 1);
  assert.equal(getValue(sent[0] as DiameterMessage, 'User-Name'), 'alice@primary.example');
  const maa = readMaa(answer);
  assert.deepEqual([maa.userName, maa.publicIdentity, maa.numberAuthItems, maa.items.length], ['alice.mig@partner.example', 'sip:alice.mig@partner.example', 2, 2]);
  const steps = lines.filter((l) => l.step !== undefined);
  assert.deepEqual(steps.map((l) => [l.step, l.node]), [[3, 'registrar'], [4, 'partner-mms'], [5, 'partner-mms'], [8, 'relay'], [9, 'partner-mms'], [10, 'partner-mms']]);
  for (const l of steps) {
    assert.equal(l.seed, 'TS 23.280 §10.6.2.2');
    assert.equal(l.flow, 'static');
    assert.match(l.msg as string, new RegExp(`^step ${String(l.step)}: `));
  }
  assert.match(steps[0]?.msg as string, /partner IMPI alice\.mig@partner\.example/);
  assert.deepEqual(steps[1]?.primaryImpus, ['sip:alice@primary.example']);
  assert.equal(steps[3]?.items, 2);
  assert.ok(!JSON.stringify(lines).includes(XRES.toString('hex')), 'no key material in logs');
  await store.close();
});

test('unknown partner IMPI → Experimental-Result 5001 USER_UNKNOWN (vendor 10415), nothing forwarded', async () => {
  const { store, handle, sent } = await setup(() => assert.fail('must not forward'));
  const partner = partnerMar({ impi: 'nobody@partner.example' });
  const answer = wire(await handle(partner));
  assert.deepEqual(readCxResult(answer), { experimentalResult: { vendorId: 10415, code: 5001 } });
  assert.equal(getValue(answer, 'Result-Code'), undefined);
  assert.equal(answer.flags.error, false);
  assert.equal(answer.hopByHop, partner.hopByHop);
  assert.equal(getValue(answer, 'Session-Id'), getValue(partner, 'Session-Id'));
  // TS 29.229 §6.1.8: the MAA may carry them; Kamailio needs User-Name to read the refusal right.
  assert.equal(getValue(answer, 'User-Name'), 'nobody@partner.example');
  assert.equal(getValue(answer, 'Public-Identity'), getValue(partner, 'Public-Identity'));
  assert.equal(sent.length, 0);
  await store.close();
});

test('IMPU not in the mapping → Experimental-Result 5002 IDENTITIES_DONT_MATCH', async () => {
  const { store, handle, sent } = await setup(() => assert.fail('must not forward'));
  const answer = wire(await handle(partnerMar({ impu: 'sip:bob@partner.example' })));
  assert.deepEqual(readCxResult(answer), { experimentalResult: { vendorId: 10415, code: 5002 } });
  assert.equal(sent.length, 0);
  await store.close();
});

for (const code of ['ERR_DIAMETER_TIMEOUT', 'ERR_DIAMETER_NO_PEER', 'ERR_DIAMETER_CLOSED'] as const) {
  test(`primary unreachable (${code}) → Result-Code 3002 UNABLE_TO_DELIVER with the E bit`, async () => {
    const { store, handle } = await setup(() => Promise.reject(new DiameterNodeError(code, 'no answer from relay.primary.example within 1000 ms')));
    const partner = partnerMar();
    const answer = wire(await handle(partner));
    assert.equal(answer.flags.error, true);
    assert.equal(getValue(answer, 'Result-Code'), 3002);
    assert.equal(getValue(answer, 'Origin-Host'), 'mms.partner.example');
    assert.equal(answer.endToEnd, partner.endToEnd);
    assert.ok(findAvp(answer, 'Proxy-Info'));
    await store.close();
  });
}

test('the primary\'s Experimental-Results pass through (5001, 5004, 5006)', async () => {
  for (const code of [5001, 5004, 5006]) {
    const { store, handle } = await setup(async (req) => cxErrorAnswer(req, experimental(code), { ...PRIMARY, errorMessage: 'no' }));
    const answer = wire(await handle(partnerMar()));
    assert.deepEqual(readCxResult(answer), { experimentalResult: { vendorId: 10415, code } });
    assert.equal(findAvp(answer, 'SIP-Auth-Data-Item'), undefined);
    await store.close();
  }
});

test('the primary\'s base Result-Codes pass through: 5012 as a Cx answer, 3004 as an E-bit answer naming the reporter', async () => {
  {
    const { store, handle } = await setup(async (req) => buildMaa(req, { ...PRIMARY, result: { resultCode: 5012 } }));
    const answer = wire(await handle(partnerMar()));
    assert.deepEqual(readCxResult(answer), { resultCode: 5012 });
    assert.equal(answer.flags.error, false);
    await store.close();
  }
  {
    const relay = { originHost: 'relay.primary.example', originRealm: 'primary.example' };
    const { store, handle } = await setup(async (req) => errorAnswerFor(req, 3004, { ...relay, errorMessage: 'busy' }));
    const answer = wire(await handle(partnerMar()));
    assert.equal(answer.flags.error, true);
    assert.equal(getValue(answer, 'Result-Code'), 3004);
    assert.equal(getValue(answer, 'Origin-Host'), 'mms.partner.example');
    assert.equal(getValue(answer, 'Error-Reporting-Host'), 'relay.primary.example');
    assert.equal(getValue(answer, 'Error-Message'), 'busy');
    await store.close();
  }
});

test('topology hiding keeps primary hosts out of error answers', async () => {
  const store = await openStore('memory', { ephemeral: true });
  const { kind: _kind, ...mapping } = MAPPING;
  await addMapping(store, mapping);
  const relay = { originHost: 'relay.primary.example', originRealm: 'primary.example' };
  const agent = createTranslationAgent({
    self: { ...SELF, topologyHiding: true }, mappings: new StoreMappingSource(store), sessionIds: new SessionIdGenerator(SELF.originHost),
    forward: async (req) => errorAnswerFor(req, 3003, { ...relay, errorMessage: 'realm primary.example via relay.primary.example' }),
  });
  const answer = wire(await agent.handle(partnerMar()));
  assert.equal(getValue(answer, 'Result-Code'), 3003);
  assert.equal(getValue(answer, 'Error-Reporting-Host'), undefined);
  assert.equal(getValue(answer, 'Error-Message'), undefined);
  await store.close();
});

test('an unreadable primary answer (no result) or a failed decode → 5012 UNABLE_TO_COMPLY', async () => {
  const noResult = async (req: DiameterMessage): Promise<DiameterMessage> => buildMessage(
    { commandCode: 303, applicationId: 16777216, flags: { proxiable: true }, hopByHop: req.hopByHop, endToEnd: req.endToEnd },
    [['Session-Id', getValue(req, 'Session-Id') as string], ['Origin-Host', PRIMARY.originHost], ['Origin-Realm', PRIMARY.originRealm]],
  );
  for (const forward of [noResult, () => Promise.reject(new DiameterNodeError('ERR_DIAMETER_BAD_ANSWER', 'undecodable'))]) {
    const { store, handle } = await setup(forward);
    const answer = wire(await handle(partnerMar()));
    assert.deepEqual(readCxResult(answer), { resultCode: 5012 });
    await store.close();
  }
});

test('a malformed partner MAR (no Public-Identity) → 5005 MISSING_AVP with Failed-AVP', async () => {
  const { store, handle, sent } = await setup(() => assert.fail('must not forward'));
  const partner = partnerMar();
  const answer = wire(await handle({ ...partner, avps: partner.avps.filter((a) => a.code !== 601) }));
  assert.deepEqual(readCxResult(answer), { resultCode: 5005 });
  assert.equal(getValue(getValue(answer, 'Failed-AVP') ?? [], 'Public-Identity'), '');
  assert.equal(sent.length, 0);
  await store.close();
});

test('the dynamic flow logs §10.6.2.3 steps with the primary MMS as step 8\'s node', async () => {
  const { logger, lines } = captureLogger();
  const agent = createTranslationAgent({
    self: SELF, sessionIds: new SessionIdGenerator(SELF.originHost), logger,
    mappings: { byPartnerImpi: async () => ({ ...MAPPING, kind: 'dynamic' }), byPrimaryImpi: async () => undefined },
    forward: async (req) => primaryMaa(req, 1),
  });
  wire(await agent.handle(partnerMar({ n: 1 })));
  const steps = lines.filter((l) => l.step !== undefined);
  assert.deepEqual(steps.map((l) => [l.step, l.node, l.seed]).slice(3, 4), [[8, 'primary-mms', 'TS 23.280 §10.6.2.3']]);
  assert.match(steps[2]?.msg as string, /^step 5: partner MMS → primary MMS/);
});

test('a malformed stored mapping → 5012 (logged), and an import can overwrite it', async () => {
  const { store, handle } = await setup(async (req) => primaryMaa(req, 1));
  await store.set('mms:map:impi:alice.mig@partner.example', { primaryImpi: 'alice@primary.example' });
  assert.deepEqual(readCxResult(wire(await handle(partnerMar({ n: 1 })))), { resultCode: 5012 });
  const { kind: _kind, ...mapping } = MAPPING;
  await addMapping(store, mapping);
  assert.deepEqual(readCxResult(wire(await handle(partnerMar({ n: 1 })))), { resultCode: 2001 });
  await store.close();
});

test('a SAR through the handler: logged without seed step numbers, answered with partner identities', async () => {
  const { logger, lines } = captureLogger();
  const { store, handle } = await setup(async (req) => buildSaa(req, { ...PRIMARY, result: { resultCode: 2001 }, userName: MAPPING.primaryImpi }), logger);
  const answer = wire(await handle(partnerSar()));
  assert.equal(getValue(answer, 'User-Name'), 'alice.mig@partner.example');
  assert.ok(lines.some((l) => l.command === 'SAR'));
  assert.ok(!lines.some((l) => l.step !== undefined));
  await store.close();
});

test('a command the MMS does not translate → 3001 COMMAND_UNSUPPORTED with the E bit', async () => {
  const { store, handle } = await setup(() => assert.fail('must not forward'));
  const uar = buildUar({ sessionId: 'x;1;2', originHost: 'scscf.partner.example', originRealm: 'partner.example', destinationRealm: 'partner.example', userName: MAPPING.partnerImpi, publicIdentity: 'sip:alice.mig@partner.example', visitedNetworkIdentifier: 'partner.example' });
  const answer = wire(await handle(uar));
  assert.equal(answer.flags.error, true);
  assert.equal(getValue(answer, 'Result-Code'), 3001);
  await store.close();
});

test('outcomes are counted (GET /admin/v1/stats, /metrics): requests, flow, success, 5001, 5002, 3002', async () => {
  const store = await openStore('memory', { ephemeral: true });
  const { kind: _kind, ...mapping } = MAPPING;
  await addMapping(store, mapping);
  const stats = new MmsStats();
  let reachable = true;
  const agent = createTranslationAgent({
    self: SELF, mappings: new StoreMappingSource(store), sessionIds: new SessionIdGenerator(SELF.originHost), logger: captureLogger().logger, stats,
    forward: async (req) => {
      if (!reachable) throw new DiameterNodeError('ERR_DIAMETER_NO_PEER', 'no open peer');
      return primaryMaa(req, 1);
    },
  });
  await agent.handle(partnerMar());
  await agent.handle(partnerMar({ impi: 'nobody@partner.example' }));
  await agent.handle(partnerMar({ impu: 'sip:bob@partner.example' }));
  reachable = false;
  await agent.handle(partnerMar());
  assert.deepEqual(stats.snapshot(), {
    mar: 4, sar: 0, static_flow: 3, dynamic_flow: 0, success: 1, user_unknown: 1, identities_dont_match: 1, primary_unreachable: 1,
    other_failures: 0, configurations_created: 0, configurations_ended: 0, configurations_refused: 0, registration_terminations: 0, registration_terminations_failed: 0,
  });
  await store.close();
});
