/**
 * DESIGN §2.4 options of `mcx mms` for the dynamic configuration, validated like every option (a UsageError naming
 * each bad field): the primary's binding API and subscriber directory, the partner's `--primary-system` and
 * migration API (HTTPS only, mutual TLS toward the primary).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../lib/cli.ts';
import { silentLogger } from '../../lib/log.ts';
import { parseMmsOptions } from '../../mms/cli.ts';
import { parsePrimarySystem } from '../../mms/options.ts';

const TLS = { tlsCert: 'c.pem', tlsKey: 'k.pem', tlsCa: ['ca.pem'] };
const node = { listen: '127.0.0.1:3870', originHost: 'mms.example', realm: 'example', route: ['primary.example=127.0.0.1:3871'] };

function problems(o: Parameters<typeof parseMmsOptions>[0]): string {
  try {
    parseMmsOptions(o, silentLogger);
  } catch (e) {
    assert.ok(e instanceof UsageError, String(e));
    return e.message;
  }
  assert.fail('expected a UsageError');
}

test('--primary-system: realm, idms, api once each, https URLs, at least one cx; every problem named', () => {
  assert.deepEqual(parsePrimarySystem('realm=primary.example,idms=https://idms.primary.example,api=https://127.0.0.1:9443,cx=tls://127.0.0.1:3870,cx=127.0.0.1:3871'), {
    realm: 'primary.example', idmsIssuer: 'https://idms.primary.example', bindingApi: 'https://127.0.0.1:9443',
    cx: [{ host: '127.0.0.1', port: 3870, transport: 'tls' }, { host: '127.0.0.1', port: 3871 }],
  });
  const bad = parsePrimarySystem('realm=not a realm,idms=http://x,api=https://a,api=https://b,color=red');
  assert.ok(Array.isArray(bad));
  assert.deepEqual(bad.map((p) => p.split(':')[0]), ['unknown part "color=red"', 'realm=not a realm', 'idms=http', 'api= must be given once (realm=REALM,idms=https', 'at least one cx=HOST']);
});

test('primary role: --binding-api, --hss-admin and its token file and TLS are required; partner options are refused', () => {
  const msg = problems({ ...node, role: 'primary', migrationApi: '127.0.0.1:1', primarySystem: ['realm=a.example,idms=https://i,api=https://a,cx=127.0.0.1:1'] });
  for (const f of ['--binding-api: required', '--hss-admin: required', '--hss-admin-token-file: required', '--tls-cert: required for --role primary', '--migration-api: only for --role partner', '--primary-system: only for --role partner']) {
    assert.ok(msg.includes(f), `${f} in\n${msg}`);
  }
  assert.match(problems({ ...node, ...TLS, role: 'primary', bindingApi: '127.0.0.1:1', hssAdmin: 'http://10.0.0.1:8868', hssAdminTokenFile: 't' }), /--hss-admin: must be an https:\/\/ URL \(http:\/\/ only on a loopback address\)/);
  const ok = parseMmsOptions({ ...node, ...TLS, role: 'primary', bindingApi: '127.0.0.1:9443', hssAdmin: 'http://127.0.0.1:8868', hssAdminTokenFile: 't', migrationTtl: '3600' }, silentLogger);
  assert.equal(ok.role, 'primary');
  assert.deepEqual(ok.role === 'primary' && [ok.bindingApi, ok.hssAdminUrl, ok.maxBindingTtlS], [{ host: '127.0.0.1', port: 9443 }, 'http://127.0.0.1:8868', 3600]);
});

test('partner role: --migration-api needs the token options, a primary system and TLS; its Cx peers must be TLS', () => {
  const msg = problems({ ...node, role: 'partner', migrationApi: '127.0.0.1:1', migrationTtl: '10' });
  for (const f of ['--token-issuer: required with --migration-api', '--token-cert: required', '--registrar-uri: required', '--primary-system: at least one', '--migration-api: needs --tls-cert', '--migration-ttl: at least 60 s']) {
    assert.ok(msg.includes(f), `${f} in\n${msg}`);
  }
  assert.match(problems({ ...node, ...TLS, role: 'partner', primarySystem: ['realm=p.example,idms=https://i.p.example,api=https://a,cx=tcp://127.0.0.1:1'] }), /--primary-system: every Diameter link between the two systems is mutual TLS/);
  const ok = parseMmsOptions({
    ...node, ...TLS, role: 'partner', migrationApi: '127.0.0.1:9444', tokenIssuer: 'https://idms.partner.example', tokenCert: 's.pem',
    registrarUri: 'sip:127.0.0.1:5060;transport=udp', primarySystem: ['realm=p.example,idms=https://i.p.example,api=https://a.p.example,cx=127.0.0.1:1'],
  }, silentLogger);
  assert.equal(ok.role === 'partner' && ok.migration?.tokenAudience, 'https://idms.partner.example/migration', 'the partner IdMS default resource');
  assert.equal(ok.role === 'partner' && ok.primarySystems?.[0]?.realm, 'p.example');
});
