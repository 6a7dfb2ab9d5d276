/**
 * TS 24.229 §5.1.1.4.1 re-registration timing — 600 s before expiry when more than 1 200 s were granted, else at
 * half — and how it is kept in charge of SIP.js's Registerer (whose own timer would refresh at 99 % and, while a
 * REGISTER is pending, reject unhandled): its bare `register()` calls are ignored unless they are its RFC 3261
 * §10.2.8 retry after `423 Interval Too Brief`, which keeps our request delegate.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { silentLogger } from '../../lib/log.ts';
import { UeError } from '../../ue-client/errors.ts';
import { parseUeOptions } from '../../ue-client/options.ts';
import { Registration, refreshDelaySeconds, type RegistrationResult } from '../../ue-client/register.ts';
import type { UeSecrets } from '../../ue-client/aka-auth.ts';
import { agentOptions, closeUeSecrets, openUeSecrets } from '../../ue-client/run.ts';
import { UeAgent } from '../../ue-client/ua.ts';
import { turn } from '../helpers/wait.ts';
import { ladderShape, startRegistrarNet, subscriber, subscribersCsv, tempDir, ueFlags, type RegistrarNet } from './fixture.ts';

const DOMAIN = 'partner.example';
const alice = subscriber('alice', DOMAIN);

test('refreshDelaySeconds: granted − 600 above 1 200 s, half at or below', () => {
  assert.deepEqual([600_000, 7200, 3600, 1201, 1200, 600, 60, 2].map(refreshDelaySeconds), [599_400, 6600, 3000, 601, 600, 300, 30, 1]);
});

describe('TS 24.229 §5.1.1.4: refreshing against our registrar', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let net: RegistrarNet;

  before(async () => {
    tmp = await tempDir('mcx-ue-refresh-');
    net = await startRegistrarNet(tmp.dir, DOMAIN, 'primary.example', subscribersCsv([alice]));
  });
  after(async () => {
    await net?.close();
    await tmp?.remove();
  });

  /** Opened secrets, closed after each test. */
  const opened: UeSecrets[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => closeUeSecrets(s)));
  });

  async function agent(expires: number): Promise<UeAgent> {
    const cfg = await parseUeOptions(ueFlags(alice, DOMAIN, `127.0.0.1:${net.port('UDP')}`, join(tmp.dir, 'alice.json'), { expires }));
    const secrets = await openUeSecrets(cfg);
    opened.push(secrets);
    return UeAgent.start(await agentOptions(cfg, secrets, silentLogger));
  }

  test('4 s granted: one refresh at half (not before 2 s), through a fresh challenge, same binding', async () => {
    const ue = await agent(4);
    let got: (o: RegistrationResult | UeError) => void = () => undefined;
    const refreshed = new Promise<RegistrationResult | UeError>((resolve) => { got = resolve; });
    const reg = new Registration(ue, { onRefresh: (o) => got(o) });
    try {
      const first = await reg.register();
      assert.equal(first.expires, 4);
      const again = await refreshed;
      assert.ok(!(again instanceof UeError), String(again));
      assert.equal(again.contact, first.contact);
      const entries = ue.ladder.entries;
      // The 200 itself (the 'registered' mark is written a turn after the refresh timer is set, later under load).
      const registered = entries.find((e) => e.direction === 'in' && e.status === 200);
      const refresh = entries.find((e) => e.label.startsWith('re-REGISTER'));
      assert.ok(registered && refresh, ue.ladder.lines().join('\n'));
      // A lower bound only: a timer never fires early, however loaded the machine.
      assert.ok(refresh.offsetMs - registered.offsetMs >= 1990, `refresh ${refresh.offsetMs - registered.offsetMs} ms after the grant`);
      await reg.deregister();
    } finally {
      reg.close();
      await ue.stop();
    }
  });

  test('the Registerer\'s own refresh call sends nothing; its 423 retry carries on with our delegate (Min-Expires)', async () => {
    const ue = await agent(1);
    const reg = new Registration(ue);
    try {
      const r = await reg.register();
      assert.equal(r.expires, 2, 'Min-Expires of the registrar');
      const shape = ladderShape(ue.ladder.lines());
      assert.deepEqual(shape.slice(0, 2), ['→ REGISTER', '← 423'], ue.ladder.lines().join('\n'));
      assert.equal(shape.at(-1), 'registered');
      const before = ue.ladder.entries.length;
      // What the Registerer's timer does at 99 % of the expiry: a bare register().
      void ue.registerer.register();
      // Whatever SIP.js would send, it sends within the promise jobs of that call: one event-loop turn.
      await turn();
      assert.equal(ue.ladder.entries.length, before, 'no REGISTER left: TS 24.229 timing is ours');
      reg.close();
    } finally {
      await ue.stop();
    }
  });
});
