/**
 * RFC 3261 §22.4 / RFC 7616 §3.4.6: the Digest `uri` must name the Request-URI. A REGISTER whose credentials are
 * right but computed for another URI gets 403 (and is a failed authentication of its source), for an AKA user and a
 * password user alike; the same URI spelled differently (RFC 3261 §19.1.4: host case) registers, and so does
 * `sip:<the address and port the request arrived on>` (this registrar itself: what SIPp 3.6.1 writes).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import {
  DOMAIN, akaAnswer, akaUser, callId, credentials, initialAuthorization, openIsim, passwordUser, registerBytes,
  registrarFixture, sipPort,
} from './helpers.ts';

const akaU = akaUser('uriaka');
const pwU = passwordUser('uripw');

describe('RFC 7616 §3.4.6 / RFC 3261 §22.4: Digest uri = Request-URI', () => {
  const f = registrarFixture({ aka: [akaU], digest: [pwU], ue: true });

  /** AKA: REGISTER → 401 → REGISTER whose RES-based response covers `digestUri`. */
  async function aka(digestUri: string): Promise<number> {
    const isim = await openIsim(f.dir, akaU);
    try {
      const id = callId();
      const r1 = await f.ue.send(registerBytes(f.ue, { impu: akaU.impus[0] as string, callId: id, cseq: 1, authorization: initialAuthorization(akaU.impi) }));
      const { authorization } = await akaAnswer(isim, r1.msg.wwwAuthenticate()[0] as DigestChallenge, { username: akaU.impi, qop: 'auth', uri: digestUri });
      return (await f.ue.send(registerBytes(f.ue, { impu: akaU.impus[0] as string, callId: id, cseq: 2, authorization }))).msg.status;
    } finally {
      await isim.close();
    }
  }

  /** Password: REGISTER → 401 → REGISTER with the right password over `digestUri`. */
  async function password(digestUri: string): Promise<number> {
    const id = callId();
    const r1 = await f.ue.send(registerBytes(f.ue, { impu: pwU.impus[0] as string, callId: id, cseq: 1 }));
    const ch = r1.msg.wwwAuthenticate()[0] as DigestChallenge;
    const authorization = credentials(ch, { username: pwU.impi, qop: 'auth', uri: digestUri, algorithm: ch.algorithm as string }, Buffer.from(pwU.password));
    return (await f.ue.send(registerBytes(f.ue, { impu: pwU.impus[0] as string, callId: id, cseq: 2, authorization }))).msg.status;
  }

  test('AKA: a response computed for another uri → 403, counted as a Digest uri mismatch and a failed authentication', async () => {
    const before = { uri: f.reg.stats.get('digest_uri_mismatches'), failures: f.reg.stats.get('auth_failures') };
    assert.equal(await aka('sip:other.example'), 403);
    assert.equal(f.reg.stats.get('digest_uri_mismatches'), before.uri + 1);
    assert.equal(f.reg.stats.get('auth_failures'), before.failures + 1);
  });

  test('password: a response computed for another uri → 403', async () => {
    assert.equal(await password(`sip:${DOMAIN};transport=tcp;maddr=192.0.2.1`), 403);
    assert.equal(await password(`sips:${DOMAIN}`), 403);
  });

  test('the Request-URI as the uri, exactly or in another spelling of the same URI → 200', async () => {
    assert.equal(await aka(`sip:${DOMAIN}`), 200);
    assert.equal(await password(`sip:${DOMAIN.toUpperCase()}`), 200);
  });

  test('the registrar\'s own address and port (SIPp 3.6.1\'s uri) → 200; another port, or a user part → 403', async () => {
    const port = sipPort(f.reg, 'UDP');
    assert.equal(await aka(`sip:127.0.0.1:${port}`), 200);
    assert.equal(await password(`sip:127.0.0.1:${port}`), 200);
    assert.equal(await password(`sip:127.0.0.1:${port + 1}`), 403);
    assert.equal(await password(`sip:registrar@127.0.0.1:${port}`), 403);
  });
});
