/**
 * RFC 4475 (SIP Torture Test Messages): every message of ../shared/vectors/rfc4475, byte-exact.
 * Valid messages parse and the fields the RFC's notes single out come out right; invalid ones fail with a
 * SipParseError (and a 400/505 can be formed where the RFC wants the element to answer), or are handled the way the
 * RFC explicitly allows (Date ignored, RFC 2543 fallback for a bare magic cookie, Contact rejected when read).
 * No message makes the parser throw anything but SipParseError, on a datagram or through the stream framer.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SipParseError } from '../../lib/sip/errors.ts';
import type { SipMessage } from '../../lib/sip/message.ts';
import { parseMessage } from '../../lib/sip/parser.ts';
import { createErrorResponse } from '../../lib/sip/response.ts';
import { serializeMessage } from '../../lib/sip/serialize.ts';
import { StreamFramer } from '../../lib/sip/transport/framer.ts';
import { tortureIndex, vector } from './helpers.ts';
import { EXPECT } from './rfc4475-expectations.ts';

/** Calls every reader, collecting anything thrown. */
function readEverything(m: SipMessage): unknown[] {
  const thrown: unknown[] = [];
  const readers: Array<() => unknown> = [
    () => m.topVia(), () => m.vias(), () => m.from(), () => m.to(), () => m.callId(), () => m.cseq(),
    () => m.maxForwards(), () => m.contacts(), () => m.expires(), () => m.authorization(), () => m.wwwAuthenticate(),
    () => m.proxyAuthorization(), () => m.proxyAuthenticate(), () => m.authenticationInfo(), () => m.list('Supported'),
    () => m.nameAddrs('Route'), () => m.nameAddrs('Record-Route'), () => (m.kind === 'request' ? m.requestUri() : 0),
  ];
  for (const r of readers) {
    try {
      r();
    } catch (err) {
      thrown.push(err);
    }
  }
  return thrown;
}

describe('RFC 4475 torture messages', () => {
  const index = tortureIndex();

  test('the vector set is complete and every message has an expectation', () => {
    assert.equal(index.length, 49);
    assert.deepEqual(index.map((e) => e.name).filter((n) => !(n in EXPECT)), []);
  });

  for (const entry of index) {
    test(`§${entry.section} ${entry.name}: ${entry.title} (${entry.valid ? 'valid' : 'invalid'})`, () => {
      const expect = EXPECT[entry.name];
      assert.ok(expect);
      const bytes = vector(entry.name);
      let msg: SipMessage | undefined;
      let error: unknown;
      try {
        msg = parseMessage(bytes, { datagram: true });
      } catch (err) {
        error = err;
      }
      if ('accept' in expect) {
        assert.equal(error, undefined, `${entry.name} must parse: ${String(error)}`);
        assert.ok(msg);
        if (entry.valid) assert.equal(msg.kind === 'request' ? msg.method : 'response', entry.method);
        expect.accept(msg);
        for (const t of readEverything(msg)) assert.ok(t instanceof SipParseError, `reader threw ${String(t)}`);
        // A message we accept serializes and parses back with the same header values and body.
        const again = parseMessage(serializeMessage(msg));
        const values = (x: SipMessage): string[] => x.headers.fields.filter((f) => f.key !== 'content-length').map((f) => f.value);
        assert.deepEqual(values(again), values(msg));
        assert.ok(again.body.equals(msg.body));
      } else {
        assert.ok(error instanceof SipParseError, `${entry.name} must fail with SipParseError, got ${String(error)}`);
        assert.equal(error.code, expect.reject, error.reason);
        assert.equal(error.canRespond, expect.respond);
        assert.equal(error.status, expect.status ?? (expect.reject === 'VERSION_NOT_SUPPORTED' ? 505 : 400));
        assert.ok(error.reason.length > 0 && !/[\r\n]/.test(error.reason));
        expect.also?.(error);
        const response = createErrorResponse(error);
        assert.equal(response !== undefined, expect.respond);
        if (response) {
          const text = serializeMessage(response).toString('utf8');
          assert.ok(text.startsWith(`SIP/2.0 ${error.status} ${error.reason}\r\n`));
          // The fields a client matches on come back as sent (even when malformed: they are echoed, not rebuilt).
          for (const v of error.headers?.getAll('Via') ?? []) assert.ok(text.includes(`\r\nVia: ${v}\r\n`), v);
          assert.ok(text.includes(`\r\nCall-ID: ${error.headers?.get('Call-ID')}\r\n`));
          assert.ok(text.includes(`\r\nCSeq: ${error.headers?.get('CSeq')}\r\n`));
          assert.ok(text.endsWith('\r\nContent-Length: 0\r\n\r\n'));
        }
      }
    });
  }

  test('stream transport: no message makes the framer or the parser throw anything but SipParseError', () => {
    for (const entry of index) {
      const framer = new StreamFramer();
      const r = framer.push(vector(entry.name));
      assert.ok(r.error === undefined || r.error instanceof SipParseError);
      for (const m of r.messages) {
        try {
          readEverything(parseMessage(m, { datagram: false }));
        } catch (err) {
          assert.ok(err instanceof SipParseError, `${entry.name}: ${String(err)}`);
        }
      }
    }
  });

  test('§3.1.2.2 clerr on a stream: the framer waits for the missing body instead of guessing', () => {
    const r = new StreamFramer().push(vector('clerr'));
    assert.equal(r.messages.length, 0);
    assert.equal(r.error, undefined);
  });

  test('§3.1.2.3 ncl and §3.3.9 mcl01 on a stream: unrecoverable framing, connection must close', () => {
    for (const name of ['ncl', 'mcl01']) {
      const r = new StreamFramer().push(vector(name));
      assert.equal(r.messages.length, 0);
      assert.ok(r.error instanceof SipParseError);
      assert.equal(r.error.closeConnection, true);
      assert.equal(r.error.code, 'BAD_CONTENT_LENGTH');
      assert.equal(r.error.canRespond, true);
    }
  });

  test('§3.1.2.4 scalar02 without its CSeq error: bad Max-Forwards is rejected when read, bad expiries read as absent', () => {
    const text = vector('scalar02').toString('latin1').replace('CSeq: 36893488147419103232 REGISTER', 'CSeq: 1 REGISTER');
    const m = parseMessage(Buffer.from(text, 'latin1'));
    assert.throws(() => m.maxForwards(), SipParseError);
    assert.equal(m.expires(), undefined);
    const c = m.contacts();
    assert.ok(c !== '*');
    assert.equal(c[0]?.expires, undefined);
    assert.equal(c[0]?.params.get('expires'), '280297596632815');
  });
});
