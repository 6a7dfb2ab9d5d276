/**
 * TS 33.180 §5.1.4.2: "The token exchange procedure shall be repeated for each partner identity management domain"
 * — so a token is good in one partner domain only. On the testbed of `mcx testbed --partners 2` (partners-testbed.ts,
 * real HTTPS on loopback, each partner its own PKI and IdMS signing key): one login of carol at the primary IdMS; a
 * security token made for partner A names A's IdMS in `aud` and partner B's IdMS refuses it (`invalid_grant`, logged
 * as a wrong audience) while A accepts it; one made for B the other way round; a partner-A access token at partner B's
 * MMS migration API gets 401 `invalid_token` (and B's at A's), while each partner's own token gets its configuration.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { MIGRATION_SCOPE } from '../../lib/idm/vocabulary.ts';
import { IdmClientError, endMigration, exchangeToken, jwtBearer, requestMigration } from '../../ue-client/idm-client.ts';
import { loginAtPrimary, type PrimaryLogin } from '../../ue-client/migrate.ts';
import { A, B, startPartnersTestbed, type PartnersBed } from './partners-testbed.ts';

describe('TS 33.180 §5.1.4.2: a token exchange per partner identity management domain, each token good there only', () => {
  let bed: PartnersBed;
  let session: PrimaryLogin;
  const partnerToken = new Map<string, string>();

  before(async () => {
    bed = await startPartnersTestbed('token-per-partner');
    session = await loginAtPrimary(bed.tb.testbed.migrationOptions(bed.tb.carol, A.name));
  });
  after(() => bed?.close());

  /** Where partner `name`'s IdMS and MMS are, with its CA, and the primary's. */
  const at = (name: string) => {
    const tb = bed.tb.testbed;
    const o = tb.migrationOptions(bed.tb.carol, name);
    return { issuer: o.partnerIssuer, mms: o.partnerMms, ca: tb.caOf(name), primary: o.primaryIssuer, primaryCa: tb.ca.primary, clientId: o.clientId };
  };
  const securityTokenFor = async (name: string): Promise<string> => {
    const p = at(name);
    return (await exchangeToken({ primaryIssuer: p.primary, accessToken: session.accessToken, partnerIssuer: p.issuer, clientId: p.clientId, ca: p.primaryCa })).securityToken;
  };
  const invalidGrant = (e: unknown): boolean => {
    assert.ok(e instanceof IdmClientError, String(e));
    assert.equal(e.code, 'ERR_IDM_OAUTH');
    assert.equal(e.error, 'invalid_grant');
    return true;
  };

  for (const [mine, other] of [[A, B], [B, A]] as const) {
    test(`a security token made for ${mine.name} names its IdMS alone; ${other.name}'s IdMS answers invalid_grant (wrong audience, logged), ${mine.name}'s takes it`, async () => {
      const st = await securityTokenFor(mine.name);
      const aud = decodeJwt(st).aud;
      assert.ok(Array.isArray(aud) && aud.includes(at(mine.name).issuer), `aud ${JSON.stringify(aud)} names ${mine.name}'s IdMS`);
      assert.ok(!aud.includes(at(other.name).issuer), `aud ${JSON.stringify(aud)} does not name ${other.name}'s IdMS`);
      const wrong = at(other.name);
      await assert.rejects(jwtBearer({ partnerIssuer: wrong.issuer, assertion: st, scope: MIGRATION_SCOPE, clientId: wrong.clientId, ca: wrong.ca }), invalidGrant);
      const idms = bed.tb.testbed.rolesOf(other.name).idms;
      await bed.tb.testbed.role(idms).waitFor(/"reason":"wrong_audience".*security token rejected: security token aud does not contain this IdMS/, 5000);
      // The refusal at the other partner used nothing up: the token's own partner still takes it (its jti is unspent).
      const right = at(mine.name);
      const pat = await jwtBearer({ partnerIssuer: right.issuer, assertion: st, scope: MIGRATION_SCOPE, clientId: right.clientId, ca: right.ca });
      assert.equal(decodeJwt(pat.accessToken).iss, right.issuer);
      partnerToken.set(mine.name, pat.accessToken);
    });
  }

  test('a partner-A access token at partner B\'s MMS: 401 invalid_token, and B\'s at A\'s; each at its own MMS: a configuration in its realm', async () => {
    for (const [mine, other] of [[A, B], [B, A]] as const) {
      const token = partnerToken.get(mine.name) as string;
      const wrong = at(other.name);
      await assert.rejects(requestMigration({ mms: wrong.mms, accessToken: token, ca: wrong.ca }), (e: unknown) => {
        assert.ok(e instanceof IdmClientError, String(e));
        assert.equal(e.status, 401);
        assert.equal(e.error, 'invalid_token');
        return true;
      });
      const right = at(mine.name);
      const c = await requestMigration({ mms: right.mms, accessToken: token, ca: right.ca });
      assert.equal(c.domain, mine.realm);
      assert.match(c.partner_impi, new RegExp(`^mig-[0-9a-f]{12}@${mine.realm.replace(/\./g, '\\.')}$`));
      await endMigration({ mms: right.mms, accessToken: token, ca: right.ca, id: c.id });
    }
  });
});
