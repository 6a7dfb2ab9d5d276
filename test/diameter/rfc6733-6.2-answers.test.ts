/**
 * RFC 6733 §6.2 answers: R cleared, command code, application, Hop-by-Hop and End-to-End identifiers and P bit
 * copied from the request, Session-Id first, every Proxy-Info of the request copied in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage } from '../../lib/diameter/codec.ts';
import { answerFor, buildAvp, findAvps, getValue } from '../../lib/diameter/message.ts';
import { buildMar } from '../../lib/diameter/cx/index.ts';
import { buildDwr } from '../../lib/diameter/peer-messages.ts';
import { MAR_INPUT } from './fixtures.ts';

const proxyInfo = (host: string, state: number) =>
  buildAvp(['Proxy-Info', [['Proxy-Host', host], ['Proxy-State', Buffer.from([state, 0, 0xff])]]]);

test('copies header identifiers and P, clears R, puts Session-Id first and appends Proxy-Info in order', () => {
  const req = buildMar(MAR_INPUT);
  req.avps.push(proxyInfo('agent1.example', 1), buildAvp(['Route-Record', 'agent1.example']), proxyInfo('agent2.example', 2));
  const ans = answerFor(req, [['Result-Code', 2001], ['Origin-Host', 'hss.example'], ['Origin-Realm', 'example']]);
  assert.deepEqual(ans.flags, { request: false, proxiable: true, error: false, retransmit: false });
  assert.equal(ans.commandCode, 303);
  assert.equal(ans.applicationId, 16777216);
  assert.equal(ans.hopByHop, MAR_INPUT.hopByHop);
  assert.equal(ans.endToEnd, MAR_INPUT.endToEnd);
  assert.equal(getValue(ans.avps.slice(0, 1), 'Session-Id'), MAR_INPUT.sessionId);
  const infos = findAvps(ans, 'Proxy-Info');
  assert.deepEqual(infos.map((p) => getValue(getValue([p], 'Proxy-Info') ?? [], 'Proxy-Host')), ['agent1.example', 'agent2.example']);
  assert.equal(findAvps(ans, 'Route-Record').length, 0, 'Route-Record stays with the request');
  assert.deepEqual(decodeMessage(encodeMessage(ans)), ans);
});

test('a Session-Id given by the caller replaces the request one, still first; no Session-Id → none', () => {
  const req = buildMar(MAR_INPUT);
  const ans = answerFor(req, [['Origin-Host', 'h.example'], ['Session-Id', 'other;1;2']]);
  assert.equal(getValue(ans.avps.slice(0, 1), 'Session-Id'), 'other;1;2');
  assert.equal(findAvps(ans, 'Session-Id').length, 1);
  const dwa = answerFor(buildDwr({ originHost: 'a.example', originRealm: 'example' }, { hopByHop: 9, endToEnd: 10 }), [['Result-Code', 2001]]);
  assert.equal(findAvps(dwa, 'Session-Id').length, 0);
  assert.equal(dwa.flags.proxiable, false);
  assert.equal(dwa.hopByHop, 9);
});
