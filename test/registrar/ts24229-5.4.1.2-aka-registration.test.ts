/**
 * TS 24.229 §5.4.1.2 / RFC 3310 / DESIGN §2.1: IMS-AKA registration through the registrar, with a real HSS as the
 * Diameter peer and our software ISIM as the UE: the 401 (WWW-Authenticate byte for byte, nonce = base64(RAND‖AUTN)
 * accepted by the ISIM, no ck/ik), the 200 (Contact with expires, Service-Route, P-Associated-URI from the SAA's
 * User-Data, Path echoed, Authentication-Info whose rspauth the UE verifies with RES), qop auth and auth-int, AKAv2,
 * the seed-step log lines, and the HSS's serving state after SAR.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rspauth } from '../../lib/aka/digest-aka.ts';
import type { RunningRegistrar } from '../../registrar/server.ts';
import {
  DOMAIN, Ue, akaUser, callId, captureLogger, credentials, headerLines, initialAuthorization, openIsim, registerAka,
  registerBytes, registrarFixture, sipPort,
} from './helpers.ts';

const alice = akaUser('alice');
const bob = akaUser('bob');
const carl = akaUser('carl');
const dora = akaUser('dora');
/** A partner identity of the namespace the partner MMS allocates dynamic bindings from (§10.6.2.3). */
const mig = akaUser('mig-0123456789ab');
/** RES values seen by the UE (= XRES): none may appear in the registrar's log. */
const secrets: string[] = [];

describe('TS 24.229 §5.4.1.2: AKA registration', () => {
  const logs = captureLogger();
  const f = registrarFixture({ aka: [alice, bob, carl, dora, mig], registrar: { logger: logs.logger } });
  let v2: RunningRegistrar;

  before(async () => {
    v2 = await f.startRegistrar({ algorithm: 'AKAv2-MD5', originHost: `registrar2.${DOMAIN}` });
  });

  test('401: WWW-Authenticate exactly as 24.229 / DESIGN §2.1, nonce = base64(RAND‖AUTN) the ISIM accepts, no ck/ik', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    try {
      const r = await ue.send(registerBytes(ue, { impu: alice.impus[0] as string, callId: callId(), cseq: 1, authorization: initialAuthorization(alice.impi) }));
      assert.equal(r.text.split('\r\n')[0], 'SIP/2.0 401 Unauthorized');
      const www = headerLines(r.text, 'WWW-Authenticate');
      assert.equal(www.length, 1);
      const m = /^Digest realm="partner\.example", nonce="([A-Za-z0-9+/]{43}=)", algorithm=AKAv1-MD5, qop="auth,auth-int"$/.exec(www[0] as string);
      assert.ok(m, www[0]);
      const nonce = Buffer.from(m[1] as string, 'base64');
      assert.equal(nonce.length, 32);
      assert.doesNotMatch(r.text, /\b(ck|ik)=/i);
      assert.match(headerLines(r.text, 'To')[0] as string, /;tag=[0-9a-f]+$/);
      const isim = await openIsim(f.dir, alice);
      const out = await isim.authenticate(nonce.subarray(0, 16), nonce.subarray(16, 32));
      assert.ok('res' in out, 'the ISIM verified AUTN (MAC and SQN)');
    } finally {
      ue.close();
    }
  });

  test('a REGISTER without any Authorization is challenged the same way (IMPI derived from To)', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    try {
      const r = await ue.send(registerBytes(ue, { impu: alice.impus[0] as string, callId: callId(), cseq: 1 }));
      assert.equal(r.msg.status, 401);
      assert.equal(r.msg.wwwAuthenticate()[0]?.algorithm, 'AKAv1-MD5');
    } finally {
      ue.close();
    }
  });

  for (const qop of ['auth', 'auth-int'] as const) {
    test(`200 with qop=${qop}: Contact;expires, Date, Service-Route, P-Associated-URI, Path echoed, rspauth verifiable with RES`, async () => {
      const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
      const user = qop === 'auth' ? alice : dora;
      const isim = await openIsim(f.dir, user);
      try {
        const body = qop === 'auth-int' ? 'integrity-protected body' : undefined;
        const contact = `<sip:ue@127.0.0.1:${ue.localPort}>;+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000001>"`;
        const r = await registerAka(ue, isim, user, {
          qop, contacts: [contact], expires: 600, extra: ['Path: <sip:pcscf.partner.example;lr>', 'Supported: path'], ...(body ? { body } : {}),
        });
        const t = r.final.text;
        assert.equal(t.split('\r\n')[0], 'SIP/2.0 200 OK', t);
        assert.deepEqual(headerLines(t, 'Contact'), [`<sip:ue@127.0.0.1:${ue.localPort}>;+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000001>";expires=600`]);
        assert.deepEqual(headerLines(t, 'Path'), ['<sip:pcscf.partner.example;lr>']);
        // RFC 3261 §10.3 step 8 and §20.17: one Date, rfc1123-date in GMT, now.
        const date = headerLines(t, 'Date');
        assert.equal(date.length, 1, t);
        assert.match(date[0] as string, /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/);
        assert.ok(Math.abs(Date.parse(date[0] as string) - Date.now()) < 60_000, date[0]);
        assert.deepEqual(headerLines(t, 'Service-Route'), [`<sip:orig@registrar.${DOMAIN}:${sipPort(f.reg, 'UDP')};lr>`]);
        assert.deepEqual(headerLines(t, 'P-Associated-URI'), [user.impus.map((u) => `<${u}>`).join(', ')]);
        const info = r.final.msg.authenticationInfo();
        assert.ok(info?.rspauth, t);
        secrets.push(r.res.toString('hex'));
        const sent = /cnonce="([^"]+)"/.exec(r.authorization)?.[1] as string;
        assert.equal(info.cnonce, sent);
        assert.equal(info.nc, '00000001');
        assert.equal(info.qop, qop);
        const expected = rspauth({
          username: user.impi, realm: DOMAIN, uri: `sip:${DOMAIN}`, nonce: r.ch.nonce as string, nc: '00000001', cnonce: sent, qop,
          password: r.res, body: Buffer.alloc(0),
        });
        assert.equal(info.rspauth, expected);
        assert.equal(headerLines(t, 'Authentication-Info')[0], `qop=${qop}, rspauth="${expected}", cnonce="${sent}", nc=00000001`);
        const serving = await f.hss.ctx.serving.get(user.impi);
        assert.equal(serving.state, 'registered');
        assert.equal(serving.server_name, f.reg.serverName);
      } finally {
        ue.close();
      }
    });
  }

  test('over TCP as well', async () => {
    const ue = await Ue.stream(sipPort(f.reg, 'TCP'));
    try {
      const r = await registerAka(ue, await openIsim(f.dir, bob), bob);
      assert.equal(r.final.msg.status, 200, r.final.text);
    } finally {
      ue.close();
    }
  });

  test('AKAv2-MD5 (RFC 4169): the 401 says so and the password is the PRF of RES‖IK‖CK', async () => {
    const ue = await Ue.udp(sipPort(v2, 'UDP'));
    const isim = await openIsim(f.dir, carl);
    try {
      const r1 = await ue.send(registerBytes(ue, { impu: carl.impus[0] as string, callId: 'v2@test', cseq: 1, authorization: initialAuthorization(carl.impi) }));
      const ch = r1.msg.wwwAuthenticate()[0];
      assert.ok(ch, r1.text);
      assert.equal(ch.algorithm, 'AKAv2-MD5');
      const { akav2Password, parseAkaNonce } = await import('../../lib/aka/digest-aka.ts');
      const { rand, autn } = parseAkaNonce(ch.nonce as string);
      const out = await isim.authenticate(rand, autn);
      assert.ok('res' in out);
      const password = akav2Password(out.res, out.ik, out.ck);
      const authorization = credentials(ch, { username: carl.impi, qop: 'auth' }, password);
      const r2 = await ue.send(registerBytes(ue, { impu: carl.impus[0] as string, callId: 'v2@test', cseq: 2, authorization }));
      assert.equal(r2.msg.status, 200, r2.text);
      // RES alone (the AKAv1 password) must not pass an AKAv2 challenge.
      const r3 = await ue.send(registerBytes(ue, { impu: carl.impus[0] as string, callId: 'v2@test', cseq: 3 }));
      const ch3 = r3.msg.wwwAuthenticate()[0];
      assert.ok(ch3);
      const n3 = parseAkaNonce(ch3.nonce as string);
      const o3 = await isim.authenticate(n3.rand, n3.autn);
      assert.ok('res' in o3);
      const r4 = await ue.send(registerBytes(ue, { impu: carl.impus[0] as string, callId: 'v2@test', cseq: 4, authorization: credentials(ch3, { username: carl.impi, qop: 'auth' }, o3.res) }));
      assert.equal(r4.msg.status, 403);
    } finally {
      ue.close();
    }
  });

  test('the seed steps 2, 3, 10, 11, 12, 13 are logged under the flow of the identity, §10.6.2.3 for mig-<12 hex>, without key material', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    try {
      assert.equal((await registerAka(ue, await openIsim(f.dir, mig), mig)).final.msg.status, 200);
    } finally {
      ue.close();
    }
    const lines = logs.lines();
    const stepsOf = (impi: string): Map<number, unknown> => new Map(lines.filter((l) => l.step !== undefined && l.impi === impi).map((l) => [l.step as number, l.seed]));
    for (const [u, seed] of [[alice, 'TS 23.280 §10.6.2.2'], [mig, 'TS 23.280 §10.6.2.3']] as const) {
      const steps = stepsOf(u.impi);
      assert.deepEqual([...steps.keys()].sort((a, b) => a - b), [2, 3, 10, 11, 12, 13], u.impi);
      assert.deepEqual([...new Set(steps.values())], [seed], `${u.impi}: every step under ${seed}`);
    }
    const text = logs.text();
    assert.ok(secrets.length > 0);
    for (const s of secrets) assert.ok(!text.includes(s), 'RES/XRES must never be logged');
  });
});
