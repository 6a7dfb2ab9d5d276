/**
 * Shared set-up of the HSS tests: an ephemeral memory store with the HSS services on it, a logger whose lines the
 * test can read, request builders, and a tiny XML well-formedness check for User-Data.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { decodeMessage, encodeMessage, type DiameterMessage } from '../../lib/diameter/codec.ts';
import { openAutn, type Milenage } from '../../lib/aka/index.ts';
import { buildMar, buildSar, readCxResult, type MaaData, type MarInput, type SarInput } from '../../lib/diameter/cx/index.ts';
import { validateMessage } from '../../lib/diameter/message.ts';
import type { Logger } from '../../lib/log.ts';
import { REDACTION } from '../../lib/log.ts';
import { openStore, type Store } from '../../lib/store/store.ts';
import { createCxHandlers, type CxContext, type CxHandlers } from '../../hss/server.ts';
import { ServingRegistry } from '../../hss/serving.ts';
import { HssStats } from '../../hss/stats.ts';
import { SubscriberRepo } from '../../hss/subscribers.ts';
import { VectorIssuer, type RandPolicy } from '../../hss/vectors.ts';

/** TS 35.208 test set 1 key material, as the subscriber's. */
export const K = '465b5ce8b199b49faa5f0a2ee238a6bc';
export const OP = 'cdc202d5123e20f62b6d676ac72cb318';
export const OPC = 'cd63cb71954a9f4e48a5994e37a02baf';
export const REALM = 'primary.example';
/** The partner realm the subscribers may be served from (the Origin-Realm of {@link ROUTING}). */
export const PARTNER = 'partner.example';
export const ALICE = { impi: 'alice@primary.example', impus: ['sip:alice@primary.example', 'tel:+15550100'], k: K, opc: OPC, allowed_partners: [PARTNER] };
export const BOB = { impi: 'bob@primary.example', impus: ['sip:bob@primary.example'], k: K, op: OP, amf: '8000', allowed_partners: [PARTNER] };
/** A SIP Digest-only subscriber. */
export const CAROL = { impi: 'carol@primary.example', impus: ['sip:carol@primary.example'], password: 'c4r0l & friends', allowed_partners: [PARTNER] };

/** A pino logger writing JSON lines into memory. */
export function captureLogger(): { logger: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString('utf8');
      cb();
    },
  });
  const logger = pino({ level: 'debug', redact: REDACTION }, sink);
  return { logger, text: () => text, lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** Everything a Cx test needs. */
export interface Hss {
  store: Store;
  ctx: CxContext;
  cx: CxHandlers;
  log: ReturnType<typeof captureLogger>;
  close(): Promise<void>;
}

/** An HSS on an ephemeral memory store, with ALICE, BOB and CAROL provisioned. */
export async function makeHss(opts: { randPolicy?: RandPolicy; random?: (n: number) => Buffer; maxAuthItems?: number } = {}): Promise<Hss> {
  const store = await openStore('memory', { ephemeral: true });
  const log = captureLogger();
  const stats = new HssStats();
  const subscribers = new SubscriberRepo(store, { realm: REALM, logger: log.logger });
  for (const s of [ALICE, BOB, CAROL]) await subscribers.put(s);
  const ctx: CxContext = {
    originHost: 'hss.primary.example', originRealm: REALM, subscribers, serving: new ServingRegistry(store), stats,
    logger: log.logger,
    vectors: new VectorIssuer({ store, stats, logger: log.logger, ...(opts.randPolicy ? { randPolicy: opts.randPolicy } : {}), ...(opts.random ? { random: opts.random } : {}) }),
    ...(opts.maxAuthItems === undefined ? {} : { maxAuthItems: opts.maxAuthItems }),
  };
  return { store, ctx, cx: createCxHandlers(ctx), log, close: () => store.close() };
}

/** Routing of a partner S-CSCF. */
export const ROUTING = {
  sessionId: 'scscf.partner.example;1;1;mar', originHost: 'scscf.partner.example', originRealm: 'partner.example',
  destinationRealm: REALM, hopByHop: 0x1234, endToEnd: 0x5678,
};

/** A MAR for ALICE's first IMPU asking for `n` AKAv1 vectors, with overrides. */
export function mar(over: Partial<MarInput> = {}): DiameterMessage {
  return buildMar({
    ...ROUTING, userName: ALICE.impi, publicIdentity: ALICE.impus[0] as string, serverName: 'sip:scscf.partner.example:5060',
    numberAuthItems: 1, scheme: 'Digest-AKAv1-MD5', ...over,
  });
}

/** A SAR for ALICE, with overrides. */
export function sar(over: Partial<SarInput> = {}): DiameterMessage {
  return buildSar({
    ...ROUTING, userName: ALICE.impi, publicIdentities: [ALICE.impus[0] as string], serverName: 'sip:scscf.primary.example:5060',
    serverAssignmentType: 1, userDataAlreadyAvailable: 0, ...over,
  });
}

/** Validates an answer against the dictionary and passes it through the wire codec, as a peer would see it. */
export function wire(msg: DiameterMessage): DiameterMessage {
  validateMessage(msg);
  return decodeMessage(encodeMessage(msg));
}

/** Asserts an Experimental-Result with Vendor-Id 10415 and `code`, and no base Result-Code. */
export function assertExperimental(answer: DiameterMessage, code: number): void {
  assert.deepEqual(readCxResult(wire(answer)), { experimentalResult: { vendorId: 10415, code } });
}

/**
 * A minimal XML well-formedness check (prolog, balanced tags, known entities, one root): enough to catch broken
 * escaping or nesting in User-Data without an XML library.
 * @returns the root element name.
 */
export function assertWellFormedXml(xml: string): string {
  const body = xml.replace(/^<\?xml[^?]*\?>/, '');
  assert.doesNotMatch(body, /&(?!(amp|lt|gt|quot|apos);)/, 'bare & in XML');
  const stack: string[] = [];
  let root = '';
  const tag = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  for (const m of body.matchAll(tag)) {
    if (m[6] !== undefined) assert.fail(`stray < at ${m.index}`);
    if (m[5] !== undefined) {
      assert.ok(stack.length > 0 || m[5].trim() === '', 'text outside the root element');
      continue;
    }
    const [close, name, , selfClose] = [m[1], m[2] as string, m[3], m[4]];
    if (close) assert.equal(stack.pop(), name, `mismatched </${name}>`);
    else {
      if (!stack.length) {
        assert.equal(root, '', 'more than one root element');
        root = name;
      }
      if (!selfClose) stack.push(name);
    }
  }
  assert.deepEqual(stack, [], 'unclosed elements');
  return root;
}

/**
 * The SQN of every vector of an MAA, each AUTN opened with the subscriber's keys (`usim`); asserts its MAC-A.
 * @param what names the MAR in the assertion messages.
 */
export function sqnsOf(usim: Milenage, maa: MaaData, what: string): bigint[] {
  return maa.items.map((item) => {
    const ra = item.authenticate as Buffer;
    const opened = openAutn(usim, ra.subarray(0, 16), ra.subarray(16));
    assert.ok(opened.macValid, `${what}: MAC-A verifies with the subscriber key`);
    return opened.sqn;
  });
}
