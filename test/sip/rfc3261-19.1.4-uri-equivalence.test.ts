/**
 * RFC 3261 §19.1.4: the URI comparison rules, with the section's own examples of equivalent and non-equivalent URIs
 * (what the registrar uses to check a Digest `uri` against the Request-URI).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { urisEquivalent } from '../../lib/sip/headers/uri-equivalence.ts';
import { parseUri } from '../../lib/sip/headers/uri.ts';

const eq = (a: string, b: string): boolean => urisEquivalent(parseUri(a), parseUri(b));

test('§19.1.4 equivalent pairs (both directions)', () => {
  for (const [a, b] of [
    ['sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;security=on'],
    ['sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on'],
    ['sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com', 'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com'],
    ['sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x'],
    ['sip:partner.example', 'sip:PARTNER.example'],
  ]) {
    assert.ok(eq(a as string, b as string), `${a} = ${b}`);
    assert.ok(eq(b as string, a as string), `${b} = ${a}`);
  }
});

test('§19.1.4 non-equivalent pairs (both directions)', () => {
  for (const [a, b] of [
    ['SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp;user=phone'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com;maddr=127.0.0.1'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'],
    ['sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'],
    ['sip:partner.example', 'sips:partner.example'],
    ['sip:partner.example', 'sip:other.example'],
    ['sip:partner.example', 'tel:+15550100'],
  ]) {
    assert.ok(!eq(a as string, b as string), `${a} ≠ ${b}`);
    assert.ok(!eq(b as string, a as string), `${b} ≠ ${a}`);
  }
});
