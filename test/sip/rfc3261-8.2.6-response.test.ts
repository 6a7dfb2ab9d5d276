/**
 * RFC 3261 §8.2.6 (generating the response) and §21 (reason phrases): Via values, From, Call-ID and CSeq copied
 * byte for byte, To copied with a tag added unless it had one (and not on 100, which copies Timestamp instead);
 * the error response to a request that failed to parse.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SipParseError } from '../../lib/sip/errors.ts';
import type { SipRequest } from '../../lib/sip/message.ts';
import { parseMessage } from '../../lib/sip/parser.ts';
import { reasonPhrase } from '../../lib/sip/reason.ts';
import { createErrorResponse, createResponse } from '../../lib/sip/response.ts';
import { createRequest } from '../../lib/sip/request.ts';
import { serializeMessage } from '../../lib/sip/serialize.ts';
import { rawRequest } from './helpers.ts';

const request = (text: string): SipRequest => parseMessage(Buffer.from(text)) as SipRequest;

describe('§8.2.6 response construction', () => {
  test('copies every Via in order, From, Call-ID, CSeq; adds a To tag; computes Content-Length', () => {
    const req = request(rawRequest({ extra: ['v: SIP/2.0/TCP p2.example.com;branch=z9hG4bKp2 , SIP/2.0/UDP p3;branch=z9hG4bKp3', 'Timestamp: 54'] }));
    const res = createResponse(req, 200, { toTag: 'tt1', headers: [['Contact', '<sip:alice@127.0.0.1>;expires=600']] });
    const text = serializeMessage(res).toString();
    assert.equal(text, [
      'SIP/2.0 200 OK',
      'Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-test-1',
      'Via: SIP/2.0/TCP p2.example.com;branch=z9hG4bKp2 , SIP/2.0/UDP p3;branch=z9hG4bKp3',
      'From: <sip:alice@ims.partner.example>;tag=f1',
      'To: <sip:alice@ims.partner.example>;tag=tt1',
      'Call-ID: call-1@test',
      'CSeq: 1 REGISTER',
      'Contact: <sip:alice@127.0.0.1>;expires=600',
      'Content-Length: 0',
      '', '',
    ].join('\r\n'));
  });

  test('a To that already has a tag is copied unchanged; random tags differ', () => {
    const tagged = request(rawRequest().replace('To: <sip:alice@ims.partner.example>', 'To: <sip:alice@ims.partner.example>;tag=existing'));
    assert.equal(createResponse(tagged, 401).headers.get('To'), '<sip:alice@ims.partner.example>;tag=existing');
    const req = request(rawRequest());
    const t1 = createResponse(req, 401).to().tag;
    const t2 = createResponse(req, 401).to().tag;
    assert.match(t1 ?? '', /^[0-9a-f]{16}$/);
    assert.notEqual(t1, t2);
  });

  test('100 Trying: no To tag, Timestamp copied (§8.2.6.1)', () => {
    const req = request(rawRequest({ extra: ['Timestamp: 54.2 0.1'] }));
    const res = createResponse(req, 100);
    assert.equal(res.to().tag, undefined);
    assert.equal(res.headers.get('Timestamp'), '54.2 0.1');
  });

  test('reason phrases, custom reason, body with Content-Type', () => {
    assert.equal(reasonPhrase(423), 'Interval Too Brief');
    assert.equal(reasonPhrase(494), 'Security Agreement Required');
    assert.equal(reasonPhrase(599), 'Server Error');
    const req = request(rawRequest());
    const res = createResponse(req, 403, { reason: 'Forbidden - Wrong Credentials', body: 'nope', contentType: 'text/plain' });
    const text = serializeMessage(res).toString();
    assert.ok(text.startsWith('SIP/2.0 403 Forbidden - Wrong Credentials\r\n'));
    assert.ok(text.endsWith('Content-Type: text/plain\r\nContent-Length: 4\r\n\r\nnope'));
  });

  test('the response parses back and matches the request (§17.1.3 keys: branch and CSeq method)', () => {
    const req = request(rawRequest());
    const back = parseMessage(serializeMessage(createResponse(req, 200)));
    assert.equal(back.topVia().branch, req.topVia().branch);
    assert.deepEqual(back.cseq(), req.cseq());
    assert.equal(back.from().tag, 'f1');
  });
});

describe('error responses to unparseable requests', () => {
  const errorOf = (text: string): SipParseError => {
    try {
      parseMessage(Buffer.from(text));
    } catch (err) {
      assert.ok(err instanceof SipParseError);
      return err;
    }
    assert.fail('expected a parse error');
  };

  test('400 with the parser reason, raw fields echoed, To tagged', () => {
    const err = errorOf(rawRequest().replace('CSeq: 1 REGISTER', 'CSeq: 1 OPTIONS'));
    const text = serializeMessage(createErrorResponse(err) ?? assert.fail()).toString();
    assert.match(text, /^SIP\/2\.0 400 CSeq method does not match Request-Line\r\n/);
    assert.match(text, /\r\nTo: <sip:alice@ims\.partner\.example>;tag=[0-9a-f]{16}\r\n/);
    assert.match(text, /\r\nCSeq: 1 OPTIONS\r\n/);
  });

  test('a To that does not parse is echoed untouched; 505 keeps its status', () => {
    const bad = errorOf(rawRequest().replace('To: <sip:alice@ims.partner.example>', 'To: "broken <sip:x@y>'));
    assert.equal(createErrorResponse(bad)?.headers.get('To'), '"broken <sip:x@y>');
    const v = errorOf(rawRequest().replace(' SIP/2.0\r\n', ' SIP/2.1\r\n'));
    assert.equal(createErrorResponse(v)?.status, 505);
  });

  test('no response without the fields a response needs', () => {
    assert.equal(createErrorResponse(errorOf(rawRequest().replace(/\r\nCall-ID: [^\r]*/, ''))), undefined);
    assert.equal(createErrorResponse(errorOf('garbage\r\n\r\n')), undefined);
  });
});

describe('requests built by a UAC (§8.1.1)', () => {
  test('createRequest fills To, From tag, Call-ID, CSeq, Max-Forwards', () => {
    const r = createRequest({ method: 'REGISTER', uri: 'sip:ims.partner.example', from: 'sip:a@ims.partner.example', to: 'sip:a@ims.partner.example', cseq: 7, contact: 'sip:a@127.0.0.1', headers: [['Expires', '600']] });
    assert.equal(r.headers.get('Max-Forwards'), '70');
    assert.match(r.headers.get('From') ?? '', /^<sip:a@ims\.partner\.example>;tag=[0-9a-f]{16}$/);
    assert.match(r.callId(), /^[0-9a-f]{32}$/);
    assert.deepEqual(r.cseq(), { seq: 7, method: 'REGISTER' });
    assert.equal(r.expires(), 600);
  });
});
