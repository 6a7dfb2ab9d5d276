/**
 * RFC 3261 §7 (SIP messages) and §18.3 (framing on datagrams) as the parser and serializer implement them: start
 * lines, header names (case, compact forms), folding, multi-valued headers and the ones never split, quoted strings,
 * IPv6 references, lazy typed readers with caching, the body by Content-Length, size limits, and serialization.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SipParseError } from '../../lib/sip/errors.ts';
import type { SipUri } from '../../lib/sip/headers/uri.ts';
import { SipRequest, type SipMessage } from '../../lib/sip/message.ts';
import { parseMessage } from '../../lib/sip/parser.ts';
import { serializeMessage } from '../../lib/sip/serialize.ts';
import { rawRequest } from './helpers.ts';

const parse = (text: string, datagram = true): SipMessage => parseMessage(Buffer.from(text), { datagram });
const parseReq = (text: string): SipRequest => {
  const m = parse(text);
  assert.ok(m instanceof SipRequest);
  return m;
};
function fails(text: string, code: SipParseError['code'], opts: { datagram?: boolean; canRespond?: boolean } = {}): SipParseError {
  try {
    parseMessage(Buffer.from(text), { datagram: opts.datagram ?? true });
  } catch (err) {
    assert.ok(err instanceof SipParseError, String(err));
    assert.equal(err.code, code, err.reason);
    if (opts.canRespond !== undefined) assert.equal(err.canRespond, opts.canRespond);
    return err;
  }
  assert.fail(`expected ${code}`);
}

describe('§7.1 Request-Line and §7.2 Status-Line', () => {
  test('a REGISTER request line', () => {
    const r = parseReq(rawRequest());
    assert.equal(r.method, 'REGISTER');
    assert.equal(r.uri, 'sip:ims.partner.example');
    assert.equal(r.requestUri().kind, 'sip');
  });

  test('a status line with a multi-word reason', () => {
    const m = parse('SIP/2.0 401 Unauthorized Here\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n');
    assert.equal(m.kind, 'response');
    if (m.kind === 'response') {
      assert.equal(m.status, 401);
      assert.equal(m.reason, 'Unauthorized Here');
    }
  });

  test('malformed start lines are 400 with a reason; SIP/3.0 is 505', () => {
    assert.equal(fails(rawRequest().replace('REGISTER sip', 'REG ISTER sip'), 'BAD_START_LINE', { canRespond: true }).status, 400);
    assert.equal(fails(rawRequest().replace(' SIP/2.0\r\n', ' SIP/3.0\r\n'), 'VERSION_NOT_SUPPORTED').status, 505);
    fails(rawRequest().replace(' SIP/2.0\r\n', ' HTTP/1.1\r\n'), 'BAD_START_LINE');
    fails(rawRequest().replace('sip:ims.partner.example SIP', 'sip:ims.partner.example?Route=x SIP'), 'BAD_REQUEST_URI');
  });

  test('a status line in lower case is still a response: never answered with a 400', () => {
    const e = fails('sip/2.0 999 Odd\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n', 'BAD_STATUS_CODE');
    assert.equal(e.isRequest, false);
    assert.equal(e.canRespond, false);
  });

  test('CRLFs before the start line are ignored (§7.5); a datagram of only CRLFs is a keep-alive', () => {
    assert.equal(parseReq('\r\n\r\n' + rawRequest()).method, 'REGISTER');
    fails('\r\n\r\n', 'EMPTY_MESSAGE');
  });
});

describe('§7.3 header fields', () => {
  test('names are case-insensitive and compact forms are the same headers (§7.3.3)', () => {
    const text = 'OPTIONS sip:x@example.com SIP/2.0\r\nv: SIP/2.0/UDP h1;branch=z9hG4bKa\r\nf: <sip:a@example.com>;tag=1\r\n' +
      't: <sip:b@example.com>\r\ni: abc@h\r\nCSEQ: 2 OPTIONS\r\nm: <sip:a@h>\r\nk: path\r\ns: hello\r\nc: text/plain\r\ne: gzip\r\nl: 2\r\n\r\nhi';
    const m = parse(text);
    assert.equal(m.headers.get('Via'), 'SIP/2.0/UDP h1;branch=z9hG4bKa');
    assert.equal(m.headers.get('FROM'), '<sip:a@example.com>;tag=1');
    assert.equal(m.to().uri.raw, 'sip:b@example.com');
    assert.equal(m.callId(), 'abc@h');
    assert.deepEqual(m.cseq(), { seq: 2, method: 'OPTIONS' });
    assert.equal(m.headers.get('contact'), '<sip:a@h>');
    assert.deepEqual(m.list('Supported'), ['path']);
    assert.equal(m.headers.get('Subject'), 'hello');
    assert.equal(m.headers.get('Content-Type'), 'text/plain');
    assert.equal(m.headers.get('Content-Encoding'), 'gzip');
    assert.equal(m.body.toString(), 'hi');
    assert.equal(m.headers.fields[0]?.name, 'v'); // the wire spelling is kept
  });

  test('folded lines (LWS continuation) unfold into one value; white space around the colon is allowed', () => {
    const m = parse(rawRequest({ extra: ['Subject  :  first\r\n  second\r\n\tthird', 'X-Empty:\r\n <sip:late@h>'] }));
    assert.equal(m.headers.get('Subject'), 'first second third');
    assert.equal(m.headers.get('X-Empty'), '<sip:late@h>');
  });

  test('a header line without a colon or with a non-token name is 400, still answerable', () => {
    fails(rawRequest({ extra: ['NoColonHere'] }), 'BAD_HEADER_LINE', { canRespond: true });
    fails(rawRequest({ extra: ['Bad Name: x'] }), 'BAD_HEADER_LINE', { canRespond: true });
  });

  test('several values: comma lists and repeated lines, in order (§7.3.1)', () => {
    const m = parse(rawRequest({ extra: ['Via: SIP/2.0/TCP p1.example.com;branch=z9hG4bKp1, SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bKp2', 'Supported: path, gruu', 'Supported: outbound'] }));
    assert.deepEqual(m.vias().map((v) => v.host), ['127.0.0.1', 'p1.example.com', '[2001:db8::9]']);
    assert.equal(m.vias()[2]?.port, 5070);
    assert.deepEqual(m.list('supported'), ['path', 'gruu', 'outbound']);
  });

  test('commas inside quoted strings and <> do not split Contact values', () => {
    const m = parse(rawRequest({ extra: ['Contact: "Bell, Alexander" <sip:bell@h;x=a>;q=0.5, <sip:w@h>;+sip.instance="<urn:a,b>"'] }));
    const c = m.contacts();
    assert.ok(c !== '*');
    assert.deepEqual(c.map((x) => x.uri.raw), ['sip:alice@127.0.0.1', 'sip:bell@h;x=a', 'sip:w@h']);
    assert.equal(c[1]?.displayName, 'Bell, Alexander');
    assert.equal(c[2]?.params.get('+sip.instance'), '<urn:a,b>');
  });

  test('WWW-Authenticate, Authorization and Date are never split on commas', () => {
    const m = parse(rawRequest({ extra: [
      'Authorization: Digest username="alice@ims.partner.example", realm="ims.partner.example", nonce="", uri="sip:ims.partner.example", response=""',
      'Authorization: Digest username="other", realm="other.example", nonce="n", uri="sip:x", response="r"',
      'Date: Sat, 13 Nov 2010 23:29:00 GMT',
    ] }));
    const a = m.authorization();
    assert.equal(a.length, 2);
    assert.equal(a[0]?.username, 'alice@ims.partner.example');
    assert.equal(a[0]?.response, '');
    assert.equal(a[1]?.realm, 'other.example');
    assert.equal(m.headers.get('Date'), 'Sat, 13 Nov 2010 23:29:00 GMT');
  });

  test('quoted strings keep escaped quotes and backslashes (§25.1 quoted-pair)', () => {
    const m = parse(rawRequest().replace('From: <sip:alice', 'From: "A \\"quoted\\" \\\\ name" <sip:alice'));
    assert.equal(m.from().displayName, 'A "quoted" \\ name');
  });

  test('IPv6 references in Via, Contact and Request-URI', () => {
    const m = parseReq(rawRequest({ uri: 'sip:[2001:db8::1]:5060', viaHost: '[2001:db8::5]', viaPort: 5062, viaParams: ';received=2001:db8::6', extra: ['Contact: <sip:bob@[2001:db8::7]:5070;transport=tcp>'] }));
    const via = m.topVia();
    assert.equal(via.host, '[2001:db8::5]');
    assert.equal(via.hostAddress, '2001:db8::5');
    assert.equal(via.port, 5062);
    assert.equal(via.received, '2001:db8::6');
    const ru = m.requestUri() as SipUri;
    assert.equal(ru.host, '[2001:db8::1]');
    assert.equal(ru.port, 5060);
    const c = m.contacts();
    assert.ok(c !== '*');
    assert.equal((c[1]?.uri as SipUri).host, '[2001:db8::7]');
    fails(rawRequest({ viaHost: '[2001:db8::zz]' }), 'BAD_HEADER_VALUE');
  });
});

describe('lazy typed readers', () => {
  test('a malformed header that nobody reads does not fail the parse; reading it throws SipParseError', () => {
    const m = parse(rawRequest({ extra: ['Contact: <sip:broken', 'Authorization: Digest username="unterminated'] }));
    assert.throws(() => m.contacts(), (e: unknown) => e instanceof SipParseError && /Contact/.test(e.reason));
    assert.throws(() => m.authorization(), (e: unknown) => e instanceof SipParseError && /Authorization/.test(e.reason));
  });

  test('parsed values are cached and dropped when the headers change', () => {
    const m = parse(rawRequest());
    const f = m.from();
    assert.equal(m.from(), f);
    m.headers.set('From', '<sip:carol@ims.partner.example>;tag=9');
    assert.notEqual(m.from(), f);
    assert.equal(m.from().tag, '9');
  });
});

describe('§7.4 / §18.3 body framing', () => {
  test('the body is exactly Content-Length octets; extra datagram octets are ignored', () => {
    const m = parse(rawRequest({ body: 'v=0\r\n' }) + 'TRAILING JUNK');
    assert.equal(m.body.toString(), 'v=0\r\n');
  });

  test('Content-Length counts octets, not characters', () => {
    const m = parse(rawRequest({ body: 'ünïcödé' }));
    assert.equal(m.body.toString('utf8'), 'ünïcödé');
    assert.equal(m.body.length, Buffer.byteLength('ünïcödé'));
  });

  test('UDP: Content-Length larger than the datagram is 400 (answerable)', () => {
    const e = fails(rawRequest().replace('Content-Length: 0', 'Content-Length: 10'), 'TRUNCATED_BODY', { canRespond: true });
    assert.equal(e.status, 400);
  });

  test('UDP: no Content-Length means the rest of the datagram; on a stream it is an error', () => {
    const text = rawRequest().replace('Content-Length: 0\r\n', '') + 'body';
    assert.equal(parse(text).body.toString(), 'body');
    fails(rawRequest().replace('Content-Length: 0\r\n', ''), 'MISSING_CONTENT_LENGTH', { datagram: false, canRespond: true });
  });

  test('negative, non-numeric and conflicting Content-Length are 400', () => {
    fails(rawRequest().replace('Content-Length: 0', 'Content-Length: -1'), 'BAD_CONTENT_LENGTH');
    fails(rawRequest().replace('Content-Length: 0', 'Content-Length: 0x10'), 'BAD_CONTENT_LENGTH');
    fails(rawRequest().replace('Content-Length: 0', 'Content-Length: 0\r\nl: 3'), 'BAD_CONTENT_LENGTH');
  });

  test('messages above the size limit are refused (513)', () => {
    const big = rawRequest({ body: 'x'.repeat(2000) });
    assert.throws(() => parseMessage(Buffer.from(big), { maxMessageSize: 1000 }),
      (e: unknown) => e instanceof SipParseError && e.code === 'MESSAGE_TOO_LARGE' && e.status === 513);
  });
});

describe('mandatory headers (§8.1.1) and answerability', () => {
  for (const h of ['From', 'To', 'Call-ID', 'CSeq']) {
    test(`missing ${h}: 400, no response can be formed`, () => {
      const text = rawRequest().replace(new RegExp(`\\r\\n${h}: [^\\r]*`), '');
      fails(text, 'MISSING_HEADER', { canRespond: false });
    });
  }

  test('missing Via: nowhere to send a response', () => {
    fails(rawRequest().replace(/\r\nVia: [^\r]*/, ''), 'MISSING_HEADER', { canRespond: false });
  });

  test('CSeq number must be below 2^31, method must match', () => {
    fails(rawRequest().replace('CSeq: 1 REGISTER', 'CSeq: 2147483648 REGISTER'), 'BAD_HEADER_VALUE', { canRespond: true });
    assert.equal(parse(rawRequest().replace('CSeq: 1 REGISTER', 'CSeq: 2147483647 REGISTER')).cseq().seq, 2147483647);
    fails(rawRequest().replace('CSeq: 1 REGISTER', 'CSeq: 1 OPTIONS'), 'CSEQ_METHOD_MISMATCH', { canRespond: true });
  });
});

describe('serialization', () => {
  test('keeps header order and spelling, rewrites Content-Length in place from the body', () => {
    const m = parse(rawRequest({ extra: ['X-First: 1'] }));
    m.body = Buffer.from('hello');
    const text = serializeMessage(m).toString();
    const names = text.split('\r\n').slice(1).filter((l) => l.includes(':')).map((l) => l.slice(0, l.indexOf(':')));
    assert.deepEqual(names, ['Via', 'Max-Forwards', 'From', 'To', 'Call-ID', 'CSeq', 'Contact', 'X-First', 'Content-Length']);
    assert.ok(text.endsWith('Content-Length: 5\r\n\r\nhello'));
  });

  test('appends Content-Length when the message had none', () => {
    const r = new SipRequest('OPTIONS', 'sip:x@h');
    r.headers.append('Call-ID', 'a');
    assert.equal(serializeMessage(r).toString(), 'OPTIONS sip:x@h SIP/2.0\r\nCall-ID: a\r\nContent-Length: 0\r\n\r\n');
  });

  test('round trip of a parsed message is byte-identical when nothing changed and it was canonical', () => {
    const text = rawRequest({ body: 'abc' });
    assert.equal(serializeMessage(parse(text)).toString(), text);
  });
});
