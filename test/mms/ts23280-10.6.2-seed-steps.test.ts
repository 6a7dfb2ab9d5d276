/**
 * TS 23.280 §10.6.2.2 / §10.6.2.3: every step 1–14 of both flows has its one-line text, `seedStep` logs
 * `step <n>: …` with the clause, flow and node; the agent's settings are checked field by field; the flow of a
 * registration follows from its partner identity (the namespace the partner MMS allocates dynamic ones from).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, withFields } from '../../lib/log.ts';
import {
  SEED_STEPS, allocateDynamicPartnerImpi, migrationFlowAt, onSeedStep, seedFlowOfPartnerIdentity, seedStep, seedStepText, seedStepsWanted,
} from '../../lib/seed-steps.ts';
import type { SeedStepEvent, SeedStepNumber } from '../../lib/seed-steps.ts';
import { parseAgentConfig } from '../../mms/config.ts';
import { UsageError } from '../../lib/cli.ts';
import { captureLogger } from './fixtures.ts';

test('both flows have a text for each of the 14 steps', () => {
  for (const flow of ['static', 'dynamic'] as const) {
    const steps = SEED_STEPS[flow];
    for (let n = 1; n <= 14; n++) assert.ok((steps[n as SeedStepNumber] ?? '').length > 10, `${flow} step ${n}`);
  }
  assert.match(SEED_STEPS.static[5], /primary SIP core\/IMS/);
  assert.match(SEED_STEPS.dynamic[5], /primary MMS/);
});

test('seedStep: one debug line, step number first, structured fields that cannot be overridden', () => {
  const { logger, lines } = captureLogger();
  seedStep(logger, 'static', 6, 'relay', undefined, { step: 99, primaryImpi: 'alice@primary.example' });
  seedStep(logger, 'dynamic', 13, 'registrar', 'partner SIP core → UE: 200 OK (sip:alice.mig@partner.example)');
  assert.deepEqual(lines.map((l) => [l.level, l.msg, l.seed, l.flow, l.step, l.node, l.primaryImpi]), [
    [20, `step 6: ${SEED_STEPS.static[6]}`, 'TS 23.280 §10.6.2.2', 'static', 6, 'relay', 'alice@primary.example'],
    [20, 'step 13: partner SIP core → UE: 200 OK (sip:alice.mig@partner.example)', 'TS 23.280 §10.6.2.3', 'dynamic', 13, 'registrar', undefined],
  ]);
});

test('onSeedStep: every step as an event with its correlation key and identities, also when no line is written; none after stopping', () => {
  const quiet = createLogger('registrar', { level: 'info', destination: new Writable({ write: (_c, _e, cb) => cb() }) }).child({ role: 'registrar' });
  const events: SeedStepEvent[] = [];
  const stop = onSeedStep((e) => events.push(e));
  const view = withFields(quiet, { impu: 'sip:alice.mig@partner.example', call_id: 'c1@ue' });
  seedStep(view, 'static', 2, 'ue', undefined, { impi: 'alice.mig@partner.example' });
  seedStep(quiet, 'static', 5, 'partner-mms', 'partner MMS → relay', { sessionId: 'mms;1;2', primaryImpi: 'alice@primary.example', primaryImpus: ['sip:alice@primary.example'] });
  stop();
  seedStep(view, 'static', 12, 'ue');
  assert.deepEqual(events.map((e) => [e.step, e.node, e.flow, e.msg, e.key, e.impi, e.impu, e.logger.bindings().role]), [
    [2, 'ue', 'static', `step 2: ${SEED_STEPS.static[2]}`, 'c1@ue', 'alice.mig@partner.example', 'sip:alice.mig@partner.example', 'registrar'],
    [5, 'partner-mms', 'static', 'step 5: partner MMS → relay', 'mms;1;2', 'alice@primary.example', 'sip:alice@primary.example', 'registrar'],
  ]);
  assert.equal(events[0]?.fields.call_id, 'c1@ue', 'the view\'s fields are the event\'s');
  assert.equal(seedStepsWanted(quiet), false, 'nobody listens and debug is off: call sites build nothing');
});

test('agent settings: defaults, and a UsageError naming every bad field', () => {
  assert.deepEqual(parseAgentConfig({ originHost: 'mms.partner.example', originRealm: 'partner.example', sipUri: 'sip:mms.partner.example' }), {
    originHost: 'mms.partner.example', originRealm: 'partner.example', sipUri: 'sip:mms.partner.example', topologyHiding: false, primaryTimeoutMs: 1000,
  });
  assert.throws(() => parseAgentConfig({ originHost: 'bad host', originRealm: 'partner.example', sipUri: 'http://x', primaryTimeoutMs: 0 }), (e: unknown) => {
    assert.ok(e instanceof UsageError);
    assert.match(e.message, /--originHost: /);
    assert.match(e.message, /--sipUri: must be a sip: or sips: URI/);
    assert.match(e.message, /--primaryTimeoutMs: /);
    return true;
  });
});

test('migrationFlowAt: home-realm origin → none; relayed by a home host (the primary MMS) → §10.6.2.3; else §10.6.2.2', () => {
  const home = 'primary.example';
  assert.equal(migrationFlowAt('primary.example', [], home), undefined, 'an ordinary registration in the primary system');
  assert.equal(migrationFlowAt('partner.example', ['mms.partner.example'], home), 'static', 'partner MMS → relay → HSS');
  assert.equal(migrationFlowAt('Partner.Example', ['mms.partner.example', 'mms.PRIMARY.example'], home), 'dynamic', 'through the primary MMS');
  assert.equal(migrationFlowAt('partner.example', ['mms.notprimary.example'], home), 'static', 'a suffix match needs the dot');
  assert.equal(migrationFlowAt(undefined, [], home), undefined);
  assert.equal(seedStepText('static', 7, 'Result-Code 2001, 1 vector(s)'), `${SEED_STEPS.static[7]} — Result-Code 2001, 1 vector(s)`);
});

test('seedFlowOfPartnerIdentity: mig-<12 hex>@realm (IMPI or sip:/sips: IMPU) → §10.6.2.3, anything else §10.6.2.2; allocations are in it', () => {
  for (const id of ['mig-0123456789ab@partner.example', 'sip:mig-a0b1c2d3e4f5@partner.example', 'sips:MIG-A0B1C2D3E4F5@Partner.Example']) {
    assert.equal(seedFlowOfPartnerIdentity(id), 'dynamic', id);
  }
  for (const id of ['alice.mig@partner.example', 'mig-0123456789a@partner.example', 'mig-0123456789abc@partner.example', 'mig-0123456789ag@partner.example',
    'xmig-0123456789ab@partner.example', 'mig-0123456789ab', 'tel:+15550100', 'sip:alice@partner.example']) {
    assert.equal(seedFlowOfPartnerIdentity(id), 'static', id);
  }
  const a = allocateDynamicPartnerImpi('partner.example');
  const b = allocateDynamicPartnerImpi('partner.example');
  assert.match(a, /^mig-[0-9a-f]{12}@partner\.example$/);
  assert.notEqual(a, b, 'random, not counted');
  assert.equal(seedFlowOfPartnerIdentity(a), 'dynamic');
  assert.equal(seedFlowOfPartnerIdentity(`sip:${a}`), 'dynamic');
});
