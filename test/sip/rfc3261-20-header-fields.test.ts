/**
 * RFC 3261 §19.1 (SIP URIs) and §20 (header fields) as the header readers implement them: Via (§20.42, RFC 3581
 * rport), name-addr/addr-spec (From, To, Contact §20.10), CSeq (§20.16), Max-Forwards (§20.22), Expires (§20.19).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SipParseError } from '../../lib/sip/errors.ts';
import { parseCSeq, parseMaxForwards } from '../../lib/sip/headers/cseq.ts';
import { formatNameAddr, parseContactValue, parseDeltaSeconds, parseNameAddr } from '../../lib/sip/headers/name-addr.ts';
import { Params } from '../../lib/sip/headers/params.ts';
import { addressOfRecord, formatSipUri, parseUri, type SipUri } from '../../lib/sip/headers/uri.ts';
import { parseVia, parseViaList, Via } from '../../lib/sip/headers/via.ts';

const bad = (fn: () => unknown): void => {
  assert.throws(fn, (e: unknown) => e instanceof SipParseError && e.code === 'BAD_HEADER_VALUE');
};

describe('§20.42 Via', () => {
  test('sent-protocol, sent-by and parameters, with LWS around / ; = (RFC 4475 §3.1.1.1)', () => {
    const v = parseVia('SIP / 2.0 / udp  host.example.com : 5062 ; branch = z9hG4bKx ; rport ; received=192.0.2.1');
    assert.equal(v.transport, 'UDP');
    assert.equal(v.host, 'host.example.com');
    assert.equal(v.port, 5062);
    assert.equal(v.branch, 'z9hG4bKx');
    assert.equal(v.rport, true);
    assert.equal(v.received, '192.0.2.1');
    assert.equal(v.sentBy, 'host.example.com:5062');
    assert.equal(v.toString(), 'SIP/2.0/UDP host.example.com:5062;branch=z9hG4bKx;rport;received=192.0.2.1');
  });

  test('rport with a value, maddr, IPv6 sent-by and received', () => {
    const v = parseVia('SIP/2.0/TCP [2001:DB8::1];rport=40000;received=2001:db8::2;maddr=239.1.1.1');
    assert.equal(v.rport, 40000);
    assert.equal(v.hostAddress, '2001:DB8::1');
    assert.equal(v.sentBy, '[2001:db8::1]');
    assert.equal(v.maddr, '239.1.1.1');
  });

  test('lists and malformed values', () => {
    assert.equal(parseViaList('SIP/2.0/UDP a;branch=z9hG4bK1 , SIP/2.0/TLS b:5061;branch=z9hG4bK2').length, 2);
    bad(() => parseVia('SIP/2.0 host'));
    bad(() => parseVia('SIP/2.0/UDP'));
    bad(() => parseVia('SIP/2.0/UDPhost'));
    bad(() => parseVia('SIP/2.0/UDP host:99999'));
    bad(() => parseVia('SIP/2.0/UDP host;;branch=1'));
    bad(() => parseVia('SIP/2.0/UDP host;branch'));
    bad(() => parseVia('SIP/2.0/UDP host;received'));
    bad(() => parseVia('SIP/2.0/UDP host garbage'));
  });

  test('a Via built from parts', () => {
    const v = new Via({ transport: 'tls', host: '[::1]', port: 5061, params: new Params() });
    v.params.set('branch', 'z9hG4bKabc');
    assert.equal(v.toString(), 'SIP/2.0/TLS [::1]:5061;branch=z9hG4bKabc');
  });
});

describe('§19.1 SIP URIs', () => {
  test('all parts', () => {
    const u = parseUri('sips:alice:secret@Example.COM:5061;transport=tcp;lr?subject=hi&x=y') as SipUri;
    assert.equal(u.kind, 'sip');
    assert.equal(u.scheme, 'sips');
    assert.equal(u.user, 'alice');
    assert.equal(u.password, 'secret');
    assert.equal(u.host, 'Example.COM');
    assert.equal(u.port, 5061);
    assert.equal(u.params.get('TRANSPORT'), 'tcp');
    assert.equal(u.params.get('lr'), null);
    assert.equal(u.headers, 'subject=hi&x=y');
    assert.equal(formatSipUri(u), u.raw);
    assert.equal(addressOfRecord(u), 'sips:alice@example.com:5061');
  });

  test('telephone-subscriber users, other schemes, bad URIs', () => {
    assert.equal((parseUri('sip:+1-212-555-1212;npdi@gw.example.com;user=phone') as SipUri).user, '+1-212-555-1212;npdi');
    assert.deepEqual(parseUri('tel:+358-555-1234567'), { kind: 'absolute', scheme: 'tel', raw: 'tel:+358-555-1234567' });
    for (const s of ['sip:', 'sip:@host', 'sip:host:port', 'sip:a b@h', '<sip:a@h>', 'sip:a@h;', 'sip:a@[::1', ':x', 'sip:a@h?']) {
      bad(() => parseUri(s));
    }
  });
});

describe('§20.10/§20.20/§20.39 name-addr and addr-spec', () => {
  test('name-addr with quoted display name and header params', () => {
    const n = parseNameAddr('"Alice \\"A\\"" <sip:alice@example.com;transport=udp>;tag=abc;foo');
    assert.equal(n.displayName, 'Alice "A"');
    assert.equal(n.bracketed, true);
    assert.equal((n.uri as SipUri).params.get('transport'), 'udp');
    assert.equal(n.tag, 'abc');
    assert.equal(n.params.get('foo'), null);
    assert.equal(formatNameAddr(n), '"Alice \\"A\\"" <sip:alice@example.com;transport=udp>;tag=abc;foo');
  });

  test('addr-spec: parameters belong to the header (RFC 4475 §3.3.12)', () => {
    const n = parseNameAddr('sip:bob@example.com;tag=7;transport=tcp');
    assert.equal(n.bracketed, false);
    assert.equal(n.uri.raw, 'sip:bob@example.com');
    assert.equal(n.params.get('transport'), 'tcp');
    assert.equal(n.tag, '7');
  });

  test('malformed values', () => {
    bad(() => parseNameAddr('"unterminated <sip:a@b>'));
    bad(() => parseNameAddr('<sip:a@b'));
    bad(() => parseNameAddr('< sip:a@b >'));
    bad(() => parseNameAddr('Bell, Alexander <sip:a@b>'));
    bad(() => parseNameAddr('sip:a@b?x=y'));
    bad(() => parseNameAddr('<sip:a@b>;;'));
    bad(() => parseNameAddr('<sip:a@b> junk'));
    bad(() => parseNameAddr(''));
  });

  test('Contact: * and lists with expires and q', () => {
    assert.equal(parseContactValue('*'), '*');
    const c = parseContactValue('<sip:a@h>;expires=3600;q=0.7, sip:b@h;expires=4294967296, <sip:c@h>;q=2');
    assert.ok(c !== '*');
    assert.deepEqual(c.map((x) => [x.expires, x.q]), [[3600, 0.7], [undefined, undefined], [undefined, undefined]]);
    bad(() => parseContactValue('<sip:a@h>, *'));
    bad(() => parseContactValue('<sip:a@h>,'));
  });
});

describe('scalar headers', () => {
  test('§20.16 CSeq', () => {
    assert.deepEqual(parseCSeq('0009 \t INVITE'), { seq: 9, method: 'INVITE' });
    for (const s of ['REGISTER', '1', '1REGISTER', '-1 REGISTER', '2147483648 REGISTER', '1 REG ISTER']) bad(() => parseCSeq(s));
  });

  test('§20.22 Max-Forwards 0–255', () => {
    assert.equal(parseMaxForwards('0068'), 68);
    bad(() => parseMaxForwards('256'));
    bad(() => parseMaxForwards('7a'));
  });

  test('§20.19 delta-seconds', () => {
    assert.equal(parseDeltaSeconds('600000'), 600000);
    assert.equal(parseDeltaSeconds(' 0 '), 0);
    assert.equal(parseDeltaSeconds('4294967295'), 4294967295);
    assert.equal(parseDeltaSeconds('4294967296'), undefined);
    assert.equal(parseDeltaSeconds('1e3'), undefined);
    assert.equal(parseDeltaSeconds(undefined), undefined);
  });
});
