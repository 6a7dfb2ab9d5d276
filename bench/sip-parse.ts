/**
 * Benchmark (not a test) of lib/sip on a typical IMS REGISTER:
 *
 *   node --expose-gc --import tsx bench/sip-parse.ts [seconds-per-phase=3]
 *
 * 1. parse only: bytes → SipRequest (start line, header lines, the eager checks of Via/From/To/Call-ID/CSeq).
 * 2. parse + respond: what a registrar pays per request without sockets — parse, stamp received/rport, read what the
 *    REGISTER logic reads (Contact, Authorization, Expires), build a 401 with a WWW-Authenticate challenge, serialize.
 * 3. UDP loopback: a SipStack answering 200, driven by a second SipStack with 100 transactions in flight. Both run
 *    in this one process on one core, so this is a lower bound of what a registrar process serves. It also reports
 *    the memory held per completed server transaction (kept 32 s by Timer J on UDP; exact only with --expose-gc).
 */
import { formatChallenge } from '../lib/sip/headers/auth.ts';
import type { SipRequest } from '../lib/sip/message.ts';
import { parseMessage } from '../lib/sip/parser.ts';
import { createRequest } from '../lib/sip/request.ts';
import { createResponse } from '../lib/sip/response.ts';
import { serializeMessage } from '../lib/sip/serialize.ts';
import { SipStack } from '../lib/sip/stack.ts';
import { stampReceived } from '../lib/sip/transport/routing.ts';

const seconds = Number(process.argv[2] ?? 3);
const gc = (globalThis as { gc?: () => void }).gc;

const REGISTER = Buffer.from([
  'REGISTER sip:ims.partner.example SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport',
  'Max-Forwards: 70',
  'From: <sip:user1@ims.partner.example>;tag=49583',
  'To: <sip:user1@ims.partner.example>',
  'Call-ID: 843817637684230@998sdasdh09',
  'CSeq: 1826 REGISTER',
  'Contact: <sip:user1@192.0.2.10:5060>;expires=600000;+sip.instance="<urn:gsma:imei:35209900-176148-0>";+g.3gpp.icsi-ref="urn%3Aurn-7%3A3gpp-service.ims.icsi.mcptt"',
  'Authorization: Digest username="user1@ims.partner.example", realm="ims.partner.example", uri="sip:ims.partner.example", nonce="", response=""',
  'Supported: path, gruu, sec-agree',
  'Expires: 600000',
  'User-Agent: mcx-ue/0.1',
  'Content-Length: 0',
  '', '',
].join('\r\n'));

const CHALLENGE = formatChallenge({ realm: 'ims.partner.example', nonce: 'CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz==', algorithm: 'AKAv1-MD5', qop: ['auth', 'auth-int'] });

/** Runs `once` in batches of 1,000 for `seconds` and returns the rate per second. */
function rate(once: () => void): number {
  let n = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(seconds * 1e9));
  let now = t0;
  while (now < end) {
    for (let i = 0; i < 1000; i++) once();
    n += 1000;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - t0) / 1e9);
}

function parseOnly(): void {
  parseMessage(REGISTER);
}

function parseAndRespond(): void {
  const req = parseMessage(REGISTER) as SipRequest;
  stampReceived(req, '198.51.100.7', 40123);
  req.contacts();
  req.authorization();
  req.expires();
  serializeMessage(createResponse(req, 401, { headers: [['WWW-Authenticate', CHALLENGE]] }));
}

async function overUdp(): Promise<{ rate: number; done: number; liveServerTx: number; heapPerTx: number }> {
  const server = new SipStack({ udp: [{ host: '127.0.0.1', port: 0 }], onRequest: (_req, tx) => { tx.reply(200); } });
  const client = new SipStack({ udp: [{ host: '127.0.0.1', port: 0 }] });
  const [srv] = await server.start();
  await client.start();
  if (!srv) throw new Error('no server address');
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  let done = 0;
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop) {
      const req = createRequest({ method: 'REGISTER', uri: 'sip:ims.partner.example', from: 'sip:u@ims.partner.example', to: 'sip:u@ims.partner.example', contact: 'sip:u@127.0.0.1', headers: [['Expires', '600']] });
      await client.sendRequest(req, { transport: 'UDP', host: '127.0.0.1', port: srv.port });
      done++;
    }
  };
  const t0 = Date.now();
  const workers = Array.from({ length: 100 }, () => worker());
  await new Promise((r) => setTimeout(r, seconds * 1000));
  stop = true;
  const r = done / ((Date.now() - t0) / 1000);
  await Promise.allSettled(workers);
  const liveServerTx = server.serverTransactions.size;
  // Let the client's Timer K (5 s) pass so only the server's completed transactions remain, then collect.
  if (gc) await new Promise((r) => setTimeout(r, 5500));
  gc?.();
  const heapPerTx = (process.memoryUsage().heapUsed - heap0) / Math.max(1, liveServerTx);
  if (process.env.BENCH_DEBUG) console.log({ client: client.stats, server: server.stats });
  await client.stop();
  await server.stop();
  return { rate: r, done, liveServerTx, heapPerTx };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en');
console.log(`parse only                        : ${fmt(rate(parseOnly))} REGISTER/s`);
console.log(`parse + 401 challenge + serialize : ${fmt(rate(parseAndRespond))} REGISTER/s`);
const u = await overUdp();
console.log(`UDP loopback, both stacks in one process: ${fmt(u.rate)} transactions/s (${u.done} REGISTER -> 200)`);
console.log(`  ${u.liveServerTx} completed server transactions held for Timer J; heap growth ≈ ${fmt(u.heapPerTx)} B each ${gc ? '' : ' (run with --expose-gc for an exact figure)'}`);
