/**
 * What RFC 4475 says about each torture message, and what this parser does about it (the accepted field values the
 * RFC's notes single out, or the SipParseError code and whether a response can be formed).
 */
import assert from 'node:assert/strict';
import { SipParseError, type SipParseErrorCode } from '../../lib/sip/errors.ts';
import { parseNameAddr } from '../../lib/sip/headers/name-addr.ts';
import { addressOfRecord, uriUser, type SipUri } from '../../lib/sip/headers/uri.ts';
import type { SipMessage, SipRequest, SipResponse } from '../../lib/sip/message.ts';
import { isRfc3261Branch, serverKey } from '../../lib/sip/transaction/keys.ts';
import { unescapePercent } from '../../lib/sip/syntax.ts';
import { vector } from './helpers.ts';

/** Checks on an accepted message. */
export type Check = (m: SipMessage) => void;
/** Accept (with checks) or reject (with the error code, answerability and status). */
export type Expectation =
  | { accept: Check }
  | { reject: SipParseErrorCode; respond: boolean; status?: number; also?: (err: SipParseError) => void };

const req = (m: SipMessage): SipRequest => {
  assert.equal(m.kind, 'request');
  return m as SipRequest;
};
const res = (m: SipMessage): SipResponse => {
  assert.equal(m.kind, 'response');
  return m as SipResponse;
};
const sip = (u: unknown): SipUri => {
  assert.equal((u as SipUri).kind, 'sip');
  return u as SipUri;
};
const src = { transport: 'UDP', remoteAddress: '192.0.2.99', remotePort: 5060 };

/** Per message: what the RFC says, and what this parser does about it. */
export const EXPECT: Record<string, Expectation> = {
  wsinv: { accept: (m) => {
    const r = req(m);
    assert.equal(r.method, 'INVITE');
    assert.equal(r.to().tag, '1918181833n');
    assert.equal(r.from().displayName, 'J Rosenberg \\"'); // quoted-pairs \\ and \" unescaped once
    assert.equal(r.from().tag, '98asjd8');
    assert.equal(r.maxForwards(), 68);
    assert.deepEqual(r.cseq(), { seq: 9, method: 'INVITE' });
    assert.deepEqual(r.vias().map((v) => [v.transport, v.host, v.branch]),
      [['UDP', '192.0.2.2', '390skdjuw'], ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'], ['UDP', '192.168.255.111', 'z9hG4bK30239']]);
    assert.equal(r.headers.get('Subject'), '');
    assert.equal(r.headers.get('newfangledheader'), 'newfangled value continued newfangled value');
    assert.equal(r.headers.get('UnknownHeaderWithUnusualValue'), ';;,,;;,;');
    const c = r.contacts();
    assert.ok(c !== '*' && c.length === 1);
    assert.equal(c[0]?.displayName, 'Quoted string ""');
    assert.equal(c[0]?.params.get('newparam'), 'newvalue');
    assert.equal(c[0]?.params.get('secondparam'), null);
    assert.equal(c[0]?.q, 0.33);
    assert.equal(r.nameAddrs('Route')[0]?.uri.raw, 'sip:services.example.com;lr;unknownwith=value;unknown-no-value');
    assert.equal(r.body.length, 150);
  } },
  intmeth: { accept: (m) => {
    const r = req(m);
    assert.equal(r.method, "!interesting-Method0123456789_*+`.%indeed'~");
    const u = sip(r.requestUri());
    assert.equal(u.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    assert.equal(u.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    assert.equal(u.host, 'example.com');
    assert.equal(r.to().displayName, 'BEL:\x07 NUL:\x00 DEL:\x7f');
    assert.equal(r.from().displayName, "token1~` token2'+_ token3*%!.-");
    assert.equal(r.from().tag, "_token~1'+`*%!-.");
    assert.equal(r.from().params.get("fromParam''~+*_!.-%"), 'работающий');
    assert.equal(r.callId(), 'intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
    assert.deepEqual(r.cseq(), { seq: 139122385, method: r.method });
    assert.equal(r.headers.get("extensionHeader-!.%*+_`'~"), '\u{FEFF}大停電');
  } },
  esc01: { accept: (m) => {
    const r = req(m);
    const u = sip(r.requestUri());
    assert.equal(u.user, 'sips%3Auser%40example.com');
    assert.equal(uriUser(u), 'sips:user@example.com');
    assert.equal(u.host, 'example.net');
    assert.equal(uriUser(r.to().uri), 'user');
    assert.equal(uriUser(r.from().uri), 'I have spaces');
    const c = r.contacts();
    assert.ok(c !== '*');
    const cu = sip(c[0]?.uri);
    assert.equal(uriUser(cu), 'caller');
    assert.equal(cu.params.get('lr'), null); // %6C%72 is "lr"
    assert.equal(unescapePercent(cu.params.get('name') ?? ''), 'value%41'); // once, not twice
  } },
  escnull: { accept: (m) => {
    const r = req(m);
    assert.equal(uriUser(r.to().uri), 'null-\x00-null');
    assert.equal(addressOfRecord(r.to().uri), 'sip:null-\x00-null@example.com');
    const c = r.contacts();
    assert.ok(c !== '*');
    assert.deepEqual(c.map((x) => uriUser(x.uri)), ['\x00', '\x00\x00']);
  } },
  esc02: { accept: (m) => {
    const r = req(m);
    assert.equal(r.method, 'RE%47IST%45R');
    assert.notEqual(r.method, 'REGISTER');
    const c = r.contacts();
    assert.ok(c !== '*' && c.length === 2);
    assert.equal(r.headers.get('C%6Fntact'), '<sip:alias2@host2.example.com>');
    assert.equal(r.to().displayName, '%Z%45');
    assert.equal(r.topVia().branch, 'z9hG4bK209%fzsnel234');
  } },
  lwsdisp: { accept: (m) => assert.equal(req(m).from().displayName, 'caller') },
  longreq: { accept: (m) => {
    const r = req(m);
    assert.match(r.to().displayName ?? '', /^I have a user name of (extreme){10} proportion$/);
    assert.equal(sip(r.to().uri).port, 6000);
    assert.match(r.from().tag ?? '', /^1(298){50}2424$/);
    assert.equal(r.vias().length, 34);
    assert.equal(r.vias()[33]?.received, '192.0.2.5');
    assert.match(r.callId(), /^longreq\.one(really){20}longcallid$/);
    assert.equal(r.body.length, 150);
  } },
  dblreq: { accept: (m) => {
    const r = req(m);
    assert.equal(r.method, 'REGISTER');
    assert.equal(r.callId(), 'dblreq.0ha0isndaksdj99sdfafnl3lk233412');
    assert.equal(r.body.length, 0); // the INVITE after it in the datagram is ignored (§18.3)
  } },
  semiuri: { accept: (m) => {
    const u = sip(req(m).requestUri());
    assert.equal(u.user, 'user;par=u%40example.net');
    assert.equal(uriUser(u), 'user;par=u@example.net');
    assert.equal(u.host, 'example.com');
    assert.equal(m.list('Accept').length, 6);
  } },
  transports: { accept: (m) => assert.deepEqual(m.vias().map((v) => v.transport), ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']) },
  mpart01: { accept: (m) => {
    assert.equal(m.body.length, 553);
    const raw = vector('mpart01');
    assert.ok(m.body.equals(raw.subarray(raw.indexOf('\r\n\r\n') + 4)));
    assert.ok(m.body.includes(0));
  } },
  unreason: { accept: (m) => {
    const r = res(m);
    assert.equal(r.status, 200);
    assert.equal(r.reason, '= 2**3 * 5**2 но сто девяносто девять - простое');
  } },
  noreason: { accept: (m) => {
    assert.equal(res(m).status, 100);
    assert.equal(res(m).reason, '');
  } },
  // 3.1.2: invalid messages
  badinv01: { reject: 'BAD_HEADER_VALUE', respond: true, also: (e) => assert.match(e.reason, /Via/) },
  clerr: { reject: 'TRUNCATED_BODY', respond: true },
  ncl: { reject: 'BAD_CONTENT_LENGTH', respond: true },
  scalar02: { reject: 'BAD_HEADER_VALUE', respond: true, also: (e) => assert.match(e.reason, /CSeq/) },
  scalarlg: { reject: 'BAD_HEADER_VALUE', respond: false }, // a response: discarded
  quotbal: { reject: 'BAD_HEADER_VALUE', respond: true, also: (e) => assert.match(e.reason, /To/) },
  ltgtruri: { reject: 'BAD_REQUEST_URI', respond: true },
  lwsruri: { reject: 'BAD_START_LINE', respond: true },
  lwsstart: { reject: 'BAD_START_LINE', respond: true },
  trws: { reject: 'BAD_START_LINE', respond: true },
  escruri: { reject: 'BAD_REQUEST_URI', respond: true, also: (e) => assert.match(e.reason, /Headers not allowed/) },
  // "may ... ignore it": a registrar does not use Date, so it stays an opaque header
  baddate: { accept: (m) => assert.equal(m.headers.get('Date'), 'Fri, 01 Jan 2010 16:00:00 EST') },
  // name-addr required: the Contact reader rejects it (lazily), which the registrar answers 400
  regbadct: { accept: (m) => assert.throws(() => m.contacts(), (e: unknown) => e instanceof SipParseError && e.code === 'BAD_HEADER_VALUE' && /Contact/.test(e.reason)) },
  badaspec: { reject: 'BAD_HEADER_VALUE', respond: true, also: (e) => assert.match(e.reason, /To/) },
  baddn: { reject: 'MISSING_EMPTY_LINE', respond: true, also: (e) => {
    for (const h of ['from', 'to']) assert.throws(() => parseNameAddr(e.headers?.get(h) ?? ''), SipParseError);
  } },
  badvers: { reject: 'VERSION_NOT_SUPPORTED', respond: true, status: 505 },
  mismatch01: { reject: 'CSEQ_METHOD_MISMATCH', respond: true },
  mismatch02: { reject: 'CSEQ_METHOD_MISMATCH', respond: true },
  bigcode: { reject: 'BAD_STATUS_CODE', respond: false },
  // 3.2.1: parsed; the bare magic cookie selects RFC 2543 matching instead of a 3261 branch key
  badbranch: { accept: (m) => {
    const r = req(m);
    assert.equal(r.topVia().branch, 'z9hG4bK');
    assert.equal(isRfc3261Branch(r.topVia().branch), false);
    assert.match(serverKey(r, src), /^2543\|/);
  } },
  // No From/To/Call-ID: nothing to build a valid response from (RFC 3261 §8.2.6.2), so it is dropped and counted.
  insuf: { reject: 'MISSING_HEADER', respond: false },
  unkscm: { accept: (m) => assert.deepEqual(req(m).requestUri(), { kind: 'absolute', scheme: 'nobodyknowsthisscheme', raw: 'nobodyKnowsThisScheme:totallyopaquecontent' }) },
  novelsc: { accept: (m) => assert.equal(req(m).requestUri().scheme, 'soap.beep') },
  unksm2: { accept: (m) => {
    assert.equal(m.to().uri.scheme, 'isbn');
    assert.equal(m.from().uri.scheme, 'http');
    const c = m.contacts();
    assert.ok(c !== '*');
    assert.equal(c[0]?.uri.raw, 'name:John_Smith');
  } },
  bext01: { accept: (m) => {
    assert.deepEqual(m.list('Require'), ['nothingSupportsThis', 'nothingSupportsThisEither']);
    assert.deepEqual(m.list('Proxy-Require'), ['noProxiesSupportThis', 'norDoAnyProxiesSupportThis']);
  } },
  invut: { accept: (m) => {
    assert.equal(m.headers.get('Content-Type'), 'application/unknownformat');
    assert.equal(m.body.length, 40);
  } },
  regaut01: { accept: (m) => {
    const [a] = m.authorization();
    assert.equal(a?.scheme, 'NoOneKnowsThisScheme');
    assert.equal(a?.params.get('opaque-data'), 'here');
    assert.equal(a?.username, undefined);
  } },
  multi01: { reject: 'DUPLICATE_HEADER', respond: true },
  mcl01: { reject: 'BAD_CONTENT_LENGTH', respond: true, also: (e) => assert.match(e.reason, /Conflicting/) },
  bcast: { accept: (m) => assert.equal(m.vias()[1]?.host, '255.255.255.255') },
  zeromf: { accept: (m) => assert.equal(req(m).maxForwards(), 0) },
  cparam01: { accept: (m) => {
    const c = m.contacts();
    assert.ok(c !== '*');
    assert.equal(sip(c[0]?.uri).params.size, 0);
    assert.equal(c[0]?.params.get('unknownparam'), null);
  } },
  cparam02: { accept: (m) => {
    const c = m.contacts();
    assert.ok(c !== '*');
    assert.equal(sip(c[0]?.uri).params.get('unknownparam'), null);
    assert.equal(c[0]?.params.size, 0);
  } },
  regescrt: { accept: (m) => {
    const c = m.contacts();
    assert.ok(c !== '*');
    assert.equal(sip(c[0]?.uri).headers, 'Route=%3Csip:sip.example.com%3E');
    assert.equal(c[0]?.uri.raw, 'sip:user@example.com?Route=%3Csip:sip.example.com%3E');
  } },
  sdp01: { accept: (m) => assert.deepEqual(m.list('Accept'), ['text/nobodyKnowsThis']) },
  inv2543: { accept: (m) => {
    const r = req(m);
    assert.equal(r.body.length, 105); // no Content-Length on UDP: the rest of the datagram
    assert.equal(r.topVia().branch, undefined);
    assert.equal(r.from().tag, undefined);
    assert.equal(r.maxForwards(), undefined);
    assert.match(serverKey(r, src), /^2543\|/);
  } },
};
