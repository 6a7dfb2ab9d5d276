/**
 * DESIGN §2.7 static / dynamic per partner realm, at the HSS as a real process (`mcx hss`, Cx over TCP):
 * `allowed_partners` entries `static:REALM`, `dynamic:REALM` and plain `REALM` (= both) come in through the CSV
 * loaded at start, the admin API (JSON and CSV import) and `mcx hss subscriber add`, each validated (a bad entry is
 * named, nothing stored). The HSS serves a MAR/SAR by the path the request took: a request that crossed a primary MMS
 * identity (`--mms-host`, the peer itself or a Route-Record an own-system agent appended) is the dynamic
 * configuration, any other from a partner realm the static one; the wrong one → Experimental-Result 5004
 * DIAMETER_ERROR_ROAMING_NOT_ALLOWED without a vector.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMar, buildSar, readCxResult, ServerAssignmentType, UserDataAlreadyAvailable } from '../../lib/diameter/cx/index.ts';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { buildAvp } from '../../lib/diameter/message.ts';
import { CX_APPLICATION, DiameterNode } from '../../lib/diameter/node.ts';
import { AdminApiError, type AdminTarget } from '../../lib/admin/client.ts';
import { adminApi } from '../../lib/admin/hss-api.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { K, OPC, REALM } from './helpers.ts';

const HSS_HOST = `hss.${REALM}`;
const PARTNER = 'partner.example';
/** The primary MMS identities the HSS is told about; `mms.<realm>` (the default) is deliberately not among them. */
const MMS_HOSTS = [`mms-a.${REALM}`, `mms-b.${REALM}`];
const user = (name: string, entry: string) => `${name}@${REALM},sip:${name}@${REALM},${K},${OPC},${entry}`;

describe('design §2.7 typed allowed_partners: static, dynamic, both', () => {
  let dir: string;
  let hss: Proc;
  let admin: AdminTarget;
  let tokenFile: string;
  let port: number;
  const nodes: DiameterNode[] = [];
  let n = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-hss-typed-'));
    await writeFile(join(dir, 'subs.csv'), ['impi,impus,k,opc,allowed_partners',
      user('alice', `static:${PARTNER}`), user('carol', `dynamic:${PARTNER}`), user('bob', PARTNER), ''].join('\n'));
    hss = startMcx(['hss', '--listen', '127.0.0.1:0', '--origin-host', HSS_HOST, '--realm', REALM, '--subscribers', join(dir, 'subs.csv'),
      '--state-dir', join(dir, 'state'), '--admin', '127.0.0.1:0', ...MMS_HOSTS.flatMap((h) => ['--mms-host', h])]);
    const m = await hss.waitFor(/hss: listening diameter=tcp:\/\/[\d.]+:(\d+) admin=(http:\/\/\S+)/, 30000);
    port = Number(m[1]);
    tokenFile = join(dir, 'state', 'admin-token');
    admin = { url: m[2] as string, token: (await readFile(tokenFile, 'utf8')).trim() };
  });
  after(async () => {
    for (const c of nodes) await c.close();
    await hss?.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  /** A Cx client of the HSS over TCP (inside one system's loopback: its CER values stand). */
  async function peer(host: string, realm: string): Promise<DiameterNode> {
    const c = new DiameterNode({ originHost: host, originRealm: realm, applications: [CX_APPLICATION] });
    nodes.push(c);
    c.addPeer({ host: '127.0.0.1', port, originHost: HSS_HOST });
    await c.waitForPeer({ originHost: HSS_HOST }, 10000);
    return c;
  }

  /**
   * A MAR for `name` originated by `origin`; `recorded` are the Route-Record entries the own-system agents in front
   * of the HSS appended (only a peer of the HSS's realm may send them).
   */
  function mar(name: string, origin: { host: string; realm: string }, recorded: string[] = []): DiameterMessage {
    const m = buildMar({
      sessionId: `${origin.host};1;${++n}`, originHost: origin.host, originRealm: origin.realm, destinationRealm: REALM,
      userName: `${name}@${REALM}`, publicIdentity: `sip:${name}@${REALM}`, serverName: `sip:registrar.${PARTNER}`, numberAuthItems: 1,
      scheme: 'Digest-AKAv1-MD5',
    });
    for (const r of recorded) m.avps.push(buildAvp(['Route-Record', r]));
    return m;
  }
  const outcome = async (c: DiameterNode, req: DiameterMessage): Promise<number | undefined> => {
    const r = readCxResult(await c.request(req, { timeoutMs: 3000 }));
    return r.experimentalResult?.code ?? r.resultCode;
  };
  const partnerMms = { host: `mms.${PARTNER}`, realm: PARTNER };

  test('static path (partner peer, or own relay with the partner in Route-Record): static and plain entries served, dynamic-only → 5004', async () => {
    const direct = await peer(`mms.${PARTNER}`, PARTNER);
    assert.deepEqual(await Promise.all(['alice', 'carol', 'bob'].map((u) => outcome(direct, mar(u, partnerMms)))), [2001, 5004, 2001]);
    const relay = await peer(`relay.${REALM}`, REALM);
    assert.deepEqual(await Promise.all(['alice', 'carol', 'bob'].map((u) => outcome(relay, mar(u, partnerMms, [`mms.${PARTNER}`])))), [2001, 5004, 2001]);
    // The registering SAR follows the same rule; a de-registration only clears state.
    const sar = (name: string, type: number) => {
      const m = buildSar({
        sessionId: `relay.${REALM};2;${++n}`, originHost: partnerMms.host, originRealm: PARTNER, destinationRealm: REALM, userName: `${name}@${REALM}`,
        publicIdentities: [`sip:${name}@${REALM}`], serverName: `sip:registrar.${PARTNER}`, serverAssignmentType: type,
        userDataAlreadyAvailable: UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE,
      });
      m.avps.push(buildAvp(['Route-Record', partnerMms.host]));
      return m;
    };
    assert.equal(await outcome(relay, sar('carol', ServerAssignmentType.REGISTRATION)), 5004);
    assert.equal(await outcome(relay, sar('alice', ServerAssignmentType.REGISTRATION)), 2001);
    assert.equal(await outcome(relay, sar('carol', ServerAssignmentType.USER_DEREGISTRATION)), 2001);
  });

  test('dynamic path (a --mms-host identity is the peer or in Route-Record): dynamic and plain entries served, static-only → 5004', async () => {
    const mmsB = await peer(MMS_HOSTS[1] as string, REALM);
    assert.deepEqual(await Promise.all(['alice', 'carol', 'bob'].map((u) => outcome(mmsB, mar(u, partnerMms, [`mms.${PARTNER}`])))), [5004, 2001, 2001]);
    // Behind the relay: the relay appended the primary MMS it authenticated as its ingress.
    const relay = await peer(`relay2.${REALM}`, REALM);
    assert.deepEqual(await Promise.all(['alice', 'carol'].map((u) => outcome(relay, mar(u, partnerMms, [`mms.${PARTNER}`, MMS_HOSTS[0] as string])))), [5004, 2001]);
    // A host that is not configured with --mms-host is no primary MMS, whatever its name says.
    const other = await peer(`mms.${REALM}`, REALM);
    assert.equal(await outcome(other, mar('carol', partnerMms, [`mms.${PARTNER}`])), 5004);
  });

  test('a request of the home realm needs no entry, by any path', async () => {
    const scscf = await peer(`scscf.${REALM}`, REALM);
    assert.deepEqual(await Promise.all(['alice', 'carol', 'bob'].map((u) => outcome(scscf, mar(u, { host: `scscf.${REALM}`, realm: REALM })))), [2001, 2001, 2001]);
  });

  test('mcx hss subscriber add takes typed --allowed-partner entries; a bad or repeated one exits 2 naming the option', async () => {
    const add = startMcx(['hss', 'subscriber', 'add', '--admin', admin.url, '--admin-token-file', tokenFile, '--impi', `dave@${REALM}`,
      '--impu', `sip:dave@${REALM}`, '--k', K, '--opc', OPC, '--allowed-partner', `static:${PARTNER}`, '--allowed-partner', 'dynamic:other.example',
      '--allowed-partner', 'third.example']);
    assert.equal(await add.exited, 0, add.output());
    assert.deepEqual((JSON.parse(add.output().trim()) as { allowed_partners: string[] }).allowed_partners, [`static:${PARTNER}`, 'dynamic:other.example', 'third.example']);
    for (const [entries, why] of [[['sometimes:partner.example'], /must be REALM, static:REALM or dynamic:REALM/], [[`static:${PARTNER}`, `dynamic:${PARTNER}`], /listed twice/]] as const) {
      const bad = startMcx(['hss', 'subscriber', 'add', '--admin', admin.url, '--admin-token-file', tokenFile, '--impi', `eve@${REALM}`,
        '--impu', `sip:eve@${REALM}`, '--k', K, '--opc', OPC, ...entries.flatMap((e) => ['--allowed-partner', e])]);
      assert.equal(await bad.exited, 2, bad.output());
      assert.match(bad.output(), /--allowed-partner: /);
      assert.match(bad.output(), why);
    }
    await assert.rejects(adminApi.get(admin, `eve@${REALM}`), (e: unknown) => e instanceof AdminApiError && e.status === 404);
  });

  test('the admin API validates typed entries in JSON and in a CSV import (bad ones named by field or line, nothing stored)', async () => {
    const input = { impi: `frank@${REALM}`, impus: [`sip:frank@${REALM}`], k: K, opc: OPC, allowed_partners: [`dynamic:${PARTNER}`] };
    assert.deepEqual((await adminApi.add(admin, input)).subscriber.allowed_partners, [`dynamic:${PARTNER}`]);
    await assert.rejects(adminApi.add(admin, { ...input, impi: `gina@${REALM}`, impus: [`sip:gina@${REALM}`], allowed_partners: ['static:'] }),
      (e: unknown) => e instanceof AdminApiError && e.status === 400 && e.problems.some((p) => p.field === 'allowed_partners'));
    const csv = ['impi,impus,k,opc,allowed_partners', `${user('hank', `static:${PARTNER} dynamic:other.example`)}`, `${user('ivan', 'dynamic:bad_realm')}`, ''].join('\n');
    await assert.rejects(adminApi.importCsv(admin, csv), (e: unknown) => e instanceof AdminApiError && e.status === 400 &&
      e.problems.some((p) => p.line === 3 && p.field === 'allowed_partners'));
    await assert.rejects(adminApi.get(admin, `hank@${REALM}`), (e: unknown) => e instanceof AdminApiError && e.status === 404);
    const good = await adminApi.importCsv(admin, csv.split('\n').filter((l) => !l.startsWith('ivan')).join('\n'));
    assert.deepEqual(good.impis, [`hank@${REALM}`]);
    assert.deepEqual((await adminApi.get(admin, `hank@${REALM}`)).subscriber.allowed_partners, [`static:${PARTNER}`, 'dynamic:other.example']);
  });
});
