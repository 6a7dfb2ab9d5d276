/**
 * The dictionary against the tables: TS 29.229 Table 6.3.1 (codes, types, V/M rules of the Cx AVPs), RFC 6733 §4.5
 * (base AVPs, the M-bit MUST NOT ones), lookups by (code, vendor) and name, and the CCF reading of RFC 6733 §3.2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dictionary, defaultDictionary, parseCcf } from '../../lib/diameter/dictionary/index.ts';

// name, code, type, M rule — transcribed from 29.229 Table 6.3.1 (all V MUST, vendor 10415).
const CX_TABLE: [string, number, string, string][] = [
  ['Visited-Network-Identifier', 600, 'OctetString', 'must'], ['Public-Identity', 601, 'UTF8String', 'must'],
  ['Server-Name', 602, 'UTF8String', 'must'], ['Server-Capabilities', 603, 'Grouped', 'must'],
  ['Mandatory-Capability', 604, 'Unsigned32', 'must'], ['Optional-Capability', 605, 'Unsigned32', 'must'],
  ['User-Data', 606, 'OctetString', 'must'], ['SIP-Number-Auth-Items', 607, 'Unsigned32', 'must'],
  ['SIP-Authentication-Scheme', 608, 'UTF8String', 'must'], ['SIP-Authenticate', 609, 'OctetString', 'must'],
  ['SIP-Authorization', 610, 'OctetString', 'must'], ['SIP-Authentication-Context', 611, 'OctetString', 'must'],
  ['SIP-Auth-Data-Item', 612, 'Grouped', 'must'], ['SIP-Item-Number', 613, 'Unsigned32', 'must'],
  ['Server-Assignment-Type', 614, 'Enumerated', 'must'], ['Deregistration-Reason', 615, 'Grouped', 'must'],
  ['Reason-Code', 616, 'Enumerated', 'must'], ['Reason-Info', 617, 'UTF8String', 'must'],
  ['Charging-Information', 618, 'Grouped', 'must'], ['Primary-Event-Charging-Function-Name', 619, 'DiameterURI', 'must'],
  ['User-Authorization-Type', 623, 'Enumerated', 'must'], ['User-Data-Already-Available', 624, 'Enumerated', 'must'],
  ['Confidentiality-Key', 625, 'OctetString', 'must'], ['Integrity-Key', 626, 'OctetString', 'must'],
  ['Supported-Features', 628, 'Grouped', 'may'], ['Feature-List-ID', 629, 'Unsigned32', 'mustNot'],
  ['Feature-List', 630, 'Unsigned32', 'mustNot'], ['Associated-Identities', 632, 'Grouped', 'mustNot'],
  ['Originating-Request', 633, 'Enumerated', 'must'], ['Wildcarded-Public-Identity', 634, 'UTF8String', 'mustNot'],
  ['SIP-Digest-Authenticate', 635, 'Grouped', 'mustNot'], ['UAR-Flags', 637, 'Unsigned32', 'mustNot'],
  ['Path', 640, 'OctetString', 'mustNot'], ['Contact', 641, 'OctetString', 'mustNot'],
  ['Multiple-Registration-Indication', 648, 'Enumerated', 'mustNot'], ['Session-Priority', 650, 'Enumerated', 'mustNot'],
  ['LIA-Flags', 653, 'Unsigned32', 'mustNot'], ['SAR-Flags', 655, 'Unsigned32', 'mustNot'], ['RTR-Flags', 659, 'Unsigned32', 'mustNot'],
];

// name, code, type, M rule — RFC 6733 §4.5 plus the RADIUS AVPs Cx reuses (no V).
const BASE_TABLE: [string, number, string, string][] = [
  ['User-Name', 1, 'UTF8String', 'must'], ['Proxy-State', 33, 'OctetString', 'must'],
  ['Digest-Realm', 104, 'UTF8String', 'must'], ['Digest-QoP', 110, 'UTF8String', 'must'],
  ['Digest-Algorithm', 111, 'UTF8String', 'must'], ['Digest-HA1', 121, 'UTF8String', 'must'],
  ['Host-IP-Address', 257, 'Address', 'must'], ['Auth-Application-Id', 258, 'Unsigned32', 'must'],
  ['Acct-Application-Id', 259, 'Unsigned32', 'must'], ['Vendor-Specific-Application-Id', 260, 'Grouped', 'must'],
  ['Session-Id', 263, 'UTF8String', 'must'], ['Origin-Host', 264, 'DiameterIdentity', 'must'],
  ['Supported-Vendor-Id', 265, 'Unsigned32', 'must'], ['Vendor-Id', 266, 'Unsigned32', 'must'],
  ['Firmware-Revision', 267, 'Unsigned32', 'mustNot'], ['Result-Code', 268, 'Unsigned32', 'must'],
  ['Product-Name', 269, 'UTF8String', 'mustNot'], ['Disconnect-Cause', 273, 'Enumerated', 'must'],
  ['Auth-Session-State', 277, 'Enumerated', 'must'], ['Origin-State-Id', 278, 'Unsigned32', 'must'],
  ['Failed-AVP', 279, 'Grouped', 'must'], ['Proxy-Host', 280, 'DiameterIdentity', 'must'],
  ['Error-Message', 281, 'UTF8String', 'mustNot'], ['Route-Record', 282, 'DiameterIdentity', 'must'],
  ['Destination-Realm', 283, 'DiameterIdentity', 'must'], ['Proxy-Info', 284, 'Grouped', 'must'],
  ['Re-Auth-Request-Type', 285, 'Enumerated', 'must'], ['Redirect-Host', 292, 'DiameterURI', 'must'],
  ['Destination-Host', 293, 'DiameterIdentity', 'must'], ['Error-Reporting-Host', 294, 'DiameterIdentity', 'mustNot'],
  ['Origin-Realm', 296, 'DiameterIdentity', 'must'], ['Experimental-Result', 297, 'Grouped', 'must'],
  ['Experimental-Result-Code', 298, 'Unsigned32', 'must'], ['Inband-Security-Id', 299, 'Unsigned32', 'must'],
];

test('Cx AVPs match 29.229 Table 6.3.1 and are found by (code, 10415) and by name', () => {
  for (const [name, code, type, m] of CX_TABLE) {
    const def = defaultDictionary.avp(code, 10415);
    assert.ok(def, name);
    assert.deepEqual([def.name, def.type, def.mBit, def.vBit], [name, type, m, 'must'], name);
    assert.equal(defaultDictionary.avpByName(name), def);
    assert.equal(defaultDictionary.avp(code), code === 621 || code === 623 ? defaultDictionary.avp(code, 0) : undefined);
  }
});

test('base AVPs match RFC 6733 §4.5 (no V bit)', () => {
  for (const [name, code, type, m] of BASE_TABLE) {
    const def = defaultDictionary.avp(code);
    assert.ok(def, name);
    assert.deepEqual([def.name, def.type, def.mBit, def.vBit, def.vendorId], [name, type, m, 'mustNot', 0], name);
  }
});

test('commands by (code, application) and abbreviation', () => {
  for (const [abbrev, code, app, pxy] of [['CER', 257, 0, false], ['DWR', 280, 0, false], ['DPR', 282, 0, false], ['UAR', 300, 16777216, true], ['SAR', 301, 16777216, true], ['LIR', 302, 16777216, true], ['MAR', 303, 16777216, true], ['RTR', 304, 16777216, true]] as const) {
    const found = defaultDictionary.commandByAbbrev(abbrev);
    assert.equal(found?.command.code, code);
    assert.equal(found?.command.applicationId, app);
    assert.equal(found?.command.proxiable, pxy);
    assert.equal(defaultDictionary.command(code, app), found?.command);
  }
  assert.equal(defaultDictionary.command(303, 0), undefined);
  const maa = defaultDictionary.commandByAbbrev('MAA');
  assert.equal(maa?.request, false);
  assert.deepEqual(maa?.format.rules.find((r) => r.name === 'SIP-Auth-Data-Item'), { name: 'SIP-Auth-Data-Item', min: 0, max: Infinity });
});

test('CCF qualifiers follow RFC 6733 §3.2', () => {
  const f = parseCcf('< Session-Id > { A } [ B ] * [ C ] 1* { D } 2*5 [ E ] 0*1< F > * [ AVP ]');
  assert.deepEqual(f.rules, [
    { name: 'Session-Id', min: 1, max: 1 }, { name: 'A', min: 1, max: 1 }, { name: 'B', min: 0, max: 1 },
    { name: 'C', min: 0, max: Infinity }, { name: 'D', min: 1, max: Infinity }, { name: 'E', min: 2, max: 5 },
    { name: 'F', min: 0, max: 1 },
  ]);
  assert.equal(f.allowsOther, true);
  assert.equal(parseCcf('{ A }').allowsOther, false);
  assert.throws(() => parseCcf('{ A } garbage'));
});

test('a dictionary with a dangling name or a duplicate refuses to build', () => {
  const a = { name: 'A', code: 1, vendorId: 0, type: 'Unsigned32', vBit: 'mustNot', mBit: 'must' } as const;
  assert.throws(() => new Dictionary([a, { ...a }], []), /duplicate/);
  assert.throws(() => new Dictionary([{ ...a, type: 'Grouped', group: '{ B }' }], []), /unknown AVP B/);
  assert.ok(defaultDictionary.allAvps().length > 100);
  assert.equal(defaultDictionary.allCommands().length, 8);
});
