/**
 * What the cross-system attack tests share, on top of the multi-process testbed of test/e2e (every role its own
 * `mcx` process, mutual TLS between the systems): the subscribers by migration policy, certificates of the partner
 * PKI as an attacker inside the partner system holds them, a hand-driven Diameter peer over TLS, Cx requests, and a
 * raw HTTPS call of the primary MMS's binding API.
 */
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { issueLeaf } from '../../certs/issue-leaf.ts';
import { loadTlsMaterial, type Role } from '../../certs/layout.ts';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { buildMar, buildSar, ServerAssignmentType, UserDataAlreadyAvailable } from '../../lib/diameter/cx/index.ts';
import { buildAvp, findAvps } from '../../lib/diameter/message.ts';
import { CX_APPLICATION, DiameterNode } from '../../lib/diameter/node.ts';
import { PARTNER_REALM, PRIMARY_REALM, subscriber, type MigrationTestbed, type Subscriber } from '../e2e/migration-testbed.ts';
import { RawPeer, rawCaps } from '../diameter/harness.ts';

export { PARTNER_REALM, PRIMARY_REALM };

/** Migrates only by static configuration (partner MMS mapping, primary relay). */
export const staticUser = (name = 'alice'): Subscriber => subscriber(name, [`static:${PARTNER_REALM}`]);
/** Migrates only by dynamic configuration (binding, primary MMS). */
export const dynamicUser = (name = 'carol'): Subscriber => subscriber(name, [`dynamic:${PARTNER_REALM}`]);

/** Certificate, key and trusted CAs (the own system's, then the primary's) of a partner leaf. */
export interface Material {
  cert: string;
  key: string;
  ca: string[];
}

/** The partner system's leaf of `role`, trusting the primary CA too (as the partner's own processes hold it). */
export function partnerLeaf(tb: MigrationTestbed, role: Role): Promise<Material> {
  return loadTlsMaterial(tb.pki, 'partner', role, ['primary']);
}

/**
 * A second partner MMS instance: its own leaf from `certs issue` (`mms2.<partner realm>`), since the partner MMS of
 * the testbed already holds the connection of `mms.<partner realm>`.
 */
export async function secondPartnerMms(tb: MigrationTestbed): Promise<{ host: string; tls: Material }> {
  const host = `mms2.${PARTNER_REALM}`;
  const leaf = await issueLeaf({ dir: tb.pki, system: 'partner', role: 'mms', name: host, force: true });
  const read = (f: string): Promise<string> => readFile(join(tb.pki, f), 'utf8');
  return { host, tls: { cert: await read(leaf.cert), key: await read(leaf.key), ca: (await partnerLeaf(tb, 'mms')).ca } };
}

/** A Diameter node of the partner system connected over mutual TLS to `port` (the relay, the primary MMS). */
export async function partnerNode(host: string, tls: Material, port: number, expect: string, nodes: DiameterNode[]): Promise<DiameterNode> {
  const node = new DiameterNode({ originHost: host, originRealm: PARTNER_REALM, applications: [CX_APPLICATION], reconnect: { initialMs: 5000, maxMs: 5000 } });
  nodes.push(node);
  node.addPeer({ host: '127.0.0.1', port, originHost: expect, tls });
  await node.waitForPeer({ originHost: expect }, 10_000);
  return node;
}

/** A hand-driven TLS peer that has not sent its CER yet. */
export function rawTlsPeer(port: number, tls: Material, host: string, realm: string): Promise<RawPeer> {
  return RawPeer.connectTls(port, tls, rawCaps(host, realm));
}

let sessions = 0;

/** Who a request says it comes from. */
export interface Origin {
  host: string;
  realm: string;
}

/** A MAR for `u`'s primary identities (what a partner would send straight at the primary). */
export function primaryMar(u: Subscriber, origin: Origin, o: { recorded?: string[]; hopByHop?: number; destinationRealm?: string } = {}): DiameterMessage {
  const msg = buildMar({
    sessionId: `${origin.host};${Date.now()};${++sessions}`, originHost: origin.host, originRealm: origin.realm,
    destinationRealm: o.destinationRealm ?? PRIMARY_REALM, userName: u.impi, publicIdentity: u.impus[0] as string,
    serverName: `sip:registrar.${PARTNER_REALM}`, numberAuthItems: 1, scheme: 'Digest-AKAv1-MD5',
    ...(o.hopByHop === undefined ? {} : { hopByHop: o.hopByHop, endToEnd: o.hopByHop }),
  });
  for (const r of o.recorded ?? []) msg.avps.push(buildAvp(['Route-Record', r]));
  return msg;
}

/** A SAR REGISTRATION for `u`'s primary identities. */
export function primarySar(u: Subscriber, origin: Origin): DiameterMessage {
  return buildSar({
    sessionId: `${origin.host};${Date.now()};${++sessions}`, originHost: origin.host, originRealm: origin.realm, destinationRealm: PRIMARY_REALM,
    userName: u.impi, publicIdentities: [u.impus[0] as string], serverName: `sip:registrar.${PARTNER_REALM}`,
    serverAssignmentType: ServerAssignmentType.REGISTRATION, userDataAlreadyAvailable: UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE,
  });
}

/** Asserts an answer hands out nothing: no vector, no profile. */
export function assertNothingHandedOut(answer: DiameterMessage): void {
  assert.equal(findAvps(answer, 'SIP-Auth-Data-Item').length, 0, 'no vector');
  assert.equal(findAvps(answer, 'User-Data').length, 0, 'no profile');
}

/** One call of the primary MMS's binding API over HTTPS with the client certificate `tls`. */
export function bindingCall(url: string, tls: Material, method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const target = new URL(path, url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(target, {
      method, cert: tls.cert, key: tls.key, ca: tls.ca, timeout: 5000,
      headers: payload === undefined ? {} : { 'content-type': 'application/json' },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, json: text === '' ? {} : JSON.parse(text) as Record<string, unknown> });
      });
    });
    req.on('timeout', () => req.destroy(new Error('binding API did not answer')));
    req.on('error', reject);
    req.end(payload);
  });
}
