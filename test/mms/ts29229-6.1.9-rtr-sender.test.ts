/**
 * TS 29.229 §6.1.9 at the partner MMS (mms/rtr.ts): the registrar that asked for a partner identity (Origin-Host of its
 * MAR/SAR) gets a Registration-Termination-Request — Destination-Host itself, the partner IMPI and IMPUs it named,
 * Deregistration-Reason PERMANENT_TERMINATION with the cause — when the identity ends: on request, or when a dynamic
 * binding reaches its end and no longer resolves. An identity no registrar asked for costs no RTR; another MMS process
 * sharing the store knows the registrar too. Real Diameter nodes on loopback.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { CX_APPLICATION_ID, CxCommand, ReasonCode, buildRta, readRtr, type RtrData } from '../../lib/diameter/cx/index.ts';
import { CX_APPLICATION, DiameterNode } from '../../lib/diameter/node.ts';
import { silentLogger } from '../../lib/log.ts';
import { openStore, type Store } from '../../lib/store/store.ts';
import { RegistrationTerminations } from '../../mms/rtr.ts';
import { MmsStats } from '../../mms/stats.ts';

const REGISTRAR = { host: 'registrar.partner.example', realm: 'partner.example' };

describe('mms/rtr.ts: RTRs to the registrar that served an identity', () => {
  let mms: DiameterNode;
  let registrar: DiameterNode;
  let store: Store;
  const received: RtrData[] = [];
  const waiters: Array<() => void> = [];
  const clock = { now: Date.now() };
  const live = new Set<string>();
  const terminations: RegistrationTerminations[] = [];
  const make = (): RegistrationTerminations => {
    const t = new RegistrationTerminations({
      store, node: () => mms, timeoutMs: 1000, logger: silentLogger, stats: new MmsStats(), sweepMs: 20, now: () => clock.now,
      resolves: async (impi) => live.has(impi),
    });
    terminations.push(t);
    return t;
  };
  const next = (): Promise<void> => new Promise((r) => waiters.push(r));

  before(async () => {
    store = await openStore('memory', { ephemeral: true });
    mms = new DiameterNode({ originHost: 'mms.partner.example', originRealm: 'partner.example', applications: [CX_APPLICATION] });
    const { port } = await mms.listen({ host: '127.0.0.1', port: 0 });
    registrar = new DiameterNode({ originHost: REGISTRAR.host, originRealm: REGISTRAR.realm, applications: [CX_APPLICATION] });
    registrar.handle(CX_APPLICATION_ID, CxCommand.RTR, (req: DiameterMessage) => {
      received.push(readRtr(req));
      waiters.shift()?.();
      return buildRta(req, { originHost: REGISTRAR.host, originRealm: REGISTRAR.realm, result: { resultCode: 2001 } });
    });
    registrar.addPeer({ host: '127.0.0.1', port });
    await mms.waitForPeer({ originHost: REGISTRAR.host });
  });
  after(async () => {
    for (const t of terminations) t.close();
    await registrar?.close();
    await mms?.close();
    await store?.close();
  });

  test('served, then terminated: one RTR to that registrar with the IMPUs it named and the cause', async () => {
    const t = make();
    t.served('alice.mig@partner.example', REGISTRAR, ['sip:alice.mig@partner.example']);
    t.served('alice.mig@partner.example', REGISTRAR, ['sip:alice.mig@partner.example']);
    await t.terminate('alice.mig@partner.example', 'static mapping removed');
    assert.equal(received.length, 1);
    const rtr = received[0] as RtrData;
    assert.equal(rtr.destinationHost, REGISTRAR.host);
    assert.equal(rtr.destinationRealm, REGISTRAR.realm);
    assert.equal(rtr.userName, 'alice.mig@partner.example');
    assert.deepEqual(rtr.publicIdentities, ['sip:alice.mig@partner.example']);
    assert.equal(rtr.reasonCode, ReasonCode.PERMANENT_TERMINATION);
    assert.equal(rtr.reasonInfo, 'static mapping removed');
    await t.terminate('alice.mig@partner.example', 'again');
    assert.equal(received.length, 1, 'once ended, the identity is forgotten');
  });

  test('an identity no registrar asked for: no RTR', async () => {
    await make().terminate('nobody@partner.example', 'static mapping removed');
    assert.equal(received.length, 1);
  });

  test('another MMS process sharing the store knows who served the identity', async () => {
    make().served('bob.mig@partner.example', REGISTRAR, ['sip:bob.mig@partner.example']);
    await new Promise((r) => setImmediate(r));
    await make().terminate('bob.mig@partner.example', 'migration ended');
    assert.equal(received.at(-1)?.userName, 'bob.mig@partner.example');
    assert.equal(received.at(-1)?.reasonInfo, 'migration ended');
  });

  test('a dynamic binding past its end that no longer resolves: RTR "migration binding expired"; one bound again meanwhile: none', async () => {
    const t = make();
    live.add('mig-renewed@partner.example');
    t.served('mig-renewed@partner.example', REGISTRAR, ['sip:mig-renewed@partner.example'], clock.now + 1000);
    t.served('mig-000000000001@partner.example', REGISTRAR, ['sip:mig-000000000001@partner.example'], clock.now + 1000);
    const count = received.length;
    const arrived = next();
    clock.now += 1001;
    await arrived;
    assert.equal(received.length, count + 1);
    assert.equal(received.at(-1)?.userName, 'mig-000000000001@partner.example');
    assert.equal(received.at(-1)?.reasonInfo, 'migration binding expired');
  });
});
