/**
 * RFC 6733 §6.1 peer selection without sockets: Destination-Host first, then the realm's ordered route (primary,
 * then failover), the default route `*`, peers of the realm in table order when no route exists, and only peers
 * that advertised the application or the Relay application (§2.4, §5.3 common applications).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationId } from '../../lib/diameter/constants.ts';
import { RouteTable, selectPeer } from '../../lib/diameter/router.ts';
import type { RouteCandidate } from '../../lib/diameter/router.ts';
import { CX_APPLICATION, commonApplications, localCapabilities } from '../../lib/diameter/capabilities.ts';
import type { LocalIdentity } from '../../lib/diameter/capabilities.ts';

const CX = ApplicationId.CX;
const peer = (originHost: string, originRealm: string, applications: number[] = [CX]): RouteCandidate => ({ originHost, originRealm, applications });
const H1 = peer('hss1.primary.example', 'primary.example');
const H2 = peer('hss2.primary.example', 'primary.example');
const RELAY = peer('relay.primary.example', 'primary.example', [ApplicationId.RELAY]);
const ACCT = peer('acct.primary.example', 'primary.example', [3]);

test('Destination-Host wins over the realm route', () => {
  const routes = new RouteTable();
  routes.set('primary.example', ['hss1.primary.example', 'hss2.primary.example']);
  assert.equal(selectPeer([H1, H2], routes, { applicationId: CX, destinationHost: 'HSS2.primary.example', destinationRealm: 'primary.example' }), H2);
});

test('a realm route is tried in order; excluded and absent peers are skipped', () => {
  const routes = new RouteTable();
  routes.set('Primary.Example', ['hss1.primary.example', 'hss2.primary.example']);
  const q = { applicationId: CX, destinationRealm: 'primary.example' };
  assert.equal(selectPeer([H2, H1], routes, q), H1);
  assert.equal(selectPeer([H2, H1], routes, { ...q, exclude: (c: RouteCandidate) => c === H1 }), H2);
  assert.equal(selectPeer([H2], routes, q), H2);
  assert.equal(selectPeer([RELAY], routes, q), undefined, 'a route names its peers: others are not used');
});

test('default route `*`, realm match in table order without a route, nothing without a realm', () => {
  const routes = new RouteTable();
  assert.equal(selectPeer([H2, H1], routes, { applicationId: CX, destinationRealm: 'primary.example' }), H2);
  assert.equal(selectPeer([H2, H1], routes, { applicationId: CX, destinationRealm: 'other.example' }), undefined);
  routes.set('*', ['relay.primary.example']);
  assert.equal(selectPeer([H1, RELAY], routes, { applicationId: CX, destinationRealm: 'other.example' }), RELAY);
  assert.equal(selectPeer([H1], routes, { applicationId: CX }), undefined);
});

test('only peers that support the application, or relay everything, qualify', () => {
  const routes = new RouteTable();
  assert.equal(selectPeer([ACCT, RELAY], routes, { applicationId: CX, destinationRealm: 'primary.example' }), RELAY);
  assert.equal(selectPeer([ACCT], routes, { applicationId: CX, destinationRealm: 'primary.example' }), undefined);
});

test('common applications (§5.3): intersection, everything with a relay, nothing in common → empty', () => {
  const local: LocalIdentity = {
    originHost: 'a', originRealm: 'r', applications: [CX_APPLICATION], relay: false, originStateId: 1, productName: 'p', vendorId: 0,
  };
  assert.deepEqual(commonApplications(local, new Set([CX, 4])), [CX]);
  assert.deepEqual(commonApplications(local, new Set([4])), []);
  assert.deepEqual(commonApplications(local, new Set([ApplicationId.RELAY])), [ApplicationId.RELAY, CX]);
  assert.deepEqual(commonApplications({ ...local, applications: [], relay: true }, new Set([CX, 4])), [CX, 4]);
  const caps = localCapabilities({ ...local, relay: true }, '::ffff:10.0.0.7');
  assert.deepEqual(caps.hostIpAddresses, ['10.0.0.7']);
  assert.deepEqual(caps.authApplicationIds, [CX, ApplicationId.RELAY]);
});
