/**
 * TS 23.280 §10.6.2.2 end to end on loopback, every role its own `mcx` process: SIPp (Debian sip-tester 3.6.1) is the
 * UE of a migrating user — partner IMPI/IMPU, the K/OP of its primary ISIM — and registers with the partner SIP core
 * (`mcx registrar`) → partner MMS (translation agent) → relay (the primary SIP core / IMS) → primary HSS
 * (`--rand-policy sipp361`) → back: REGISTER → 401 → REGISTER → 200, over UDP and over TCP. The legs between the two
 * systems (partner MMS → relay) are mutual TLS with the certificates of `initPki`; the registrar → MMS leg (inside the
 * partner system) and the relay → HSS leg (inside the primary) are plain TCP, captured with tshark.
 *
 * Asserted: the 200s; the HSS saw only primary identities (its Cx log lines, its counters, the capture of its leg); the
 * registrar only partner ones (its seed-step log lines, its bindings through the admin API, the capture of its leg);
 * the inter-system leg carries neither (TLS records only), and the relay refuses a client without a certificate.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { adminApi } from '../../lib/admin/hss-api.ts';
import { certPaths } from '../../certs/layout.ts';
import { freePorts } from '../helpers/ports.ts';
import { runSipp, writeAkaScenario, type SippResult, type SippUser } from '../helpers/sipp.ts';
import { decodeDiameter, startCapture, tsharkFields, type Capture } from '../helpers/tshark.ts';
import {
  K, OP, PARTNER_NAMES, PARTNER_REALM, PRIMARY_NAMES, USER, logLines, sipBindings, sipChain, staticTestbed, waitForLines, type SipChain,
} from '../mms/testbed.ts';
import type { TwoSystemTestbed } from '../../deploy/testbed-builder.ts';

const UE: SippUser = { domain: PARTNER_REALM, impi: USER.partner.impi, impu: USER.partner.impus[0], k: K, op: OP, amf: '8000' };
const failure = (r: SippResult, chain: SipChain): string =>
  `sipp exit ${r.code}\n${r.output.slice(-2000)}\n--- registrar ---\n${chain.registrar.output().slice(-2000)}\n--- mms ---\n${chain.mms.output().slice(-2000)}`;

/** The three legs a registration crosses, each captured on its listener's port. */
type Leg = 'registrar-mms' | 'mms-relay' | 'relay-hss';

describe('TS 23.280 §10.6.2.2 end to end: SIPp → registrar → partner MMS → relay → HSS, one process each', () => {
  let tb: TwoSystemTestbed;
  let chain: SipChain;
  let local: number[];
  const captures = new Map<Leg, Capture>();
  const results: Array<[string, SippResult]> = [];
  const port = (leg: Leg): number => (leg === 'registrar-mms' ? chain.mms : leg === 'mms-relay' ? chain.relay : chain.hss).port;
  const raw = (leg: Leg): string => readFileSync((captures.get(leg) as Capture).file).toString('latin1');

  before(async () => {
    assert.ok(!K.startsWith('00') && !OP.startsWith('00'), 'SIPp 3.6.1 misreads a K or OP whose first octet is 0x00');
    tb = await staticTestbed('e2e-static-sipp', { amf: UE.amf, registrarTls: false, randPolicy: 'sipp361' });
    chain = await sipChain(tb);
    local = await freePorts(2);
    for (const leg of ['registrar-mms', 'mms-relay', 'relay-hss'] as const) captures.set(leg, await startCapture(`tcp port ${port(leg)}`));
    for (const [i, transport] of [[0, 'udp'], [1, 'tcp']] as const) {
      const target = `127.0.0.1:${chain.registrar.sipPort(transport)}`;
      results.push([transport, await runSipp(target, writeAkaScenario(UE, tb.dir), { transport, localPort: local[i] as number })]);
    }
    for (const c of captures.values()) await c.stop();
  });
  after(async () => {
    for (const c of captures.values()) {
      await c.stop();
      c.remove();
    }
    await tb?.close();
  });

  test('SIPp registers the partner identities with the primary keys: REGISTER → 401 → REGISTER → 200 over UDP and over TCP', () => {
    assert.deepEqual(results.map(([t]) => t), ['udp', 'tcp']);
    for (const [transport, r] of results) assert.equal(r.code, 0, `${transport}: ${failure(r, chain)}`);
  });

  test('the registrar\'s view: bindings (admin API) for the partner IMPU only, one contact per transport', async () => {
    const bindings = await sipBindings(tb, chain.registrar);
    assert.deepEqual(bindings.map((b) => b.aor), [USER.partner.impus[0]]);
    // SIPp writes `transport=[transport]` as UDP / TCP.
    const uris = bindings[0]?.contacts.map((c) => c.uri).sort();
    assert.deepEqual(uris, [`sip:ue@127.0.0.1:${local[0]};transport=UDP`, `sip:ue@127.0.0.1:${local[1]};transport=TCP`].sort());
  });

  test('the registrar\'s view: its seed-step lines name the partner IMPI/IMPU, its whole log no primary identity', async () => {
    // Steps 2 (REGISTER), 12 (challenge response), 13 (200 OK) of both registrations.
    const steps = await waitForLines(chain.registrar, (l) => l.step === 13, 2);
    assert.equal(steps.length, 2);
    const named = logLines(chain.registrar).filter((l) => typeof l.step === 'number' && (l.impi !== undefined || l.impu !== undefined));
    assert.ok(named.length >= 6, `${named.length} seed-step lines with identities`);
    for (const l of named) {
      if (l.impi !== undefined) assert.equal(l.impi, USER.partner.impi);
      if (l.impu !== undefined) assert.equal(l.impu, USER.partner.impus[0]);
    }
    const text = chain.registrar.output();
    for (const n of PRIMARY_NAMES) assert.ok(!text.includes(n), `the registrar must not learn ${n}`);
  });

  test('the HSS\'s view: its MAR/SAR log lines name the primary IMPI/IMPUs, its counters count both registrations, its log no partner identity', async () => {
    const primaryImpus: readonly unknown[] = USER.primary.impus;
    for (const l of await waitForLines(chain.hss, (x) => x.clause === '29.228 §6.3.1', 1)) {
      assert.equal(l.impi, USER.primary.impi);
      assert.ok(primaryImpus.includes(l.impu), String(l.impu));
    }
    for (const l of await waitForLines(chain.hss, (x) => x.clause === '29.228 §6.1.2', 2)) {
      assert.equal(l.impi, USER.primary.impi);
      assert.ok((l.impus as unknown[]).length > 0 && (l.impus as unknown[]).every((u) => primaryImpus.includes(u)), JSON.stringify(l.impus));
    }
    const stats = await adminApi.stats(await tb.adminTarget(chain.hss));
    // The first MAR brought --auth-vectors (4) vectors: the second 401 used one the registrar kept.
    assert.equal(stats.mar, 1, 'one MAR for both 401s');
    assert.equal(stats.vectors_issued, 4);
    assert.equal(stats.sar, 2, 'one SAR per 200');
    const text = chain.hss.output();
    for (const n of PARTNER_NAMES) assert.ok(!text.includes(n), `the HSS must not learn ${n}`);
  });

  test('tshark, relay → HSS leg (plain TCP): the MAR and the SARs of both registrations with primary identities only', async () => {
    const d = await decodeDiameter((captures.get('relay-hss') as Capture).file, port('relay-hss'));
    const requests = d.fields.filter(([, req]) => req === '1' || req === 'True').map(([code]) => code);
    assert.deepEqual([requests.filter((c) => c === '303').length, requests.filter((c) => c === '301').length], [1, 2], requests.join(' '));
    assert.match(d.verbose, /User-Name: alice@primary\.example/);
    assert.doesNotMatch(d.verbose, /Malformed/i);
    const bytes = raw('relay-hss');
    assert.ok(bytes.includes(USER.primary.impi));
    for (const n of PARTNER_NAMES) assert.ok(!bytes.includes(n), `no ${n} on the HSS leg`);
  });

  test('tshark, registrar → partner MMS leg (plain TCP): MAR and SAR with partner identities only, User-Data included', async () => {
    const d = await decodeDiameter((captures.get('registrar-mms') as Capture).file, port('registrar-mms'));
    const answers = d.fields.filter(([, req]) => req === '0' || req === 'False').map(([code, , rc]) => `${code}/${rc}`);
    assert.deepEqual(answers.filter((a) => a === '303/2001' || a === '301/2001').sort(), ['301/2001', '301/2001', '303/2001']);
    assert.match(d.verbose, /User-Name: alice\.mig@partner\.example/);
    const bytes = raw('registrar-mms');
    assert.ok(bytes.includes(`<PrivateID>${USER.partner.impi}</PrivateID>`), 'the SAA\'s User-Data, rewritten to the partner IMPI');
    for (const n of PRIMARY_NAMES) assert.ok(!bytes.includes(n), `no ${n} on the registrar leg`);
  });

  test('the inter-system leg (partner MMS → relay) is TLS: its bytes name no identity and decode as TLS records, not Diameter', async () => {
    const file = (captures.get('mms-relay') as Capture).file;
    const types = (await tsharkFields(file, port('mms-relay'), 'tls', ['tls.record.content_type'])).flatMap((r) => r[0]?.split(',') ?? []);
    // 23: application data, the MAR, the SARs of both registrations and their answers (the handshake was before the
    // capture); messages written in one event-loop turn share a record (lib/cork.ts), so at least one per exchange.
    assert.ok(types.filter((t) => t === '23').length >= 3, `TLS record types: ${types.join(' ')}`);
    assert.deepEqual((await decodeDiameter(file, port('mms-relay'))).fields, [], 'no cleartext Diameter');
    const bytes = raw('mms-relay');
    for (const n of [...PRIMARY_NAMES, ...PARTNER_NAMES]) assert.ok(!bytes.includes(n), `no ${n} in clear`);
    const urls = logLines(chain.mms).find((l) => l.msg === 'partner MMS ready')?.routes as Record<string, string[]>;
    assert.deepEqual(urls, { 'primary.example': [`tls://127.0.0.1:${chain.relay.port}`] });
  });

  test('mutual TLS: the relay refuses a TLS client that presents no certificate, and logs why', async () => {
    const sock = connect({ host: '127.0.0.1', port: chain.relay.port, ca: readFileSync(certPaths(tb.pki, 'primary', 'relay').ca), servername: 'localhost' });
    sock.on('error', () => undefined);
    const received: Buffer[] = [];
    sock.on('data', (b: Buffer) => received.push(b));
    await new Promise((resolve) => sock.once('close', resolve));
    assert.deepEqual(received, [], 'nothing from the relay (no CEA)');
    const [line] = await waitForLines(chain.relay, (l) => /^TLS client 127\.0\.0\.1:\d+ refused: certificate not trusted/.test(String(l.msg)));
    assert.equal(line?.reason, 'NO_CLIENT_CERTIFICATE');
  });
});
