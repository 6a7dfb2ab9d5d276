/**
 * The testbed's demo UE: the signalling user agent of TS 23.280 §10.6.2.2 steps 2, 11, 12 and 13, built from our ISIM
 * (ue-client/isim.ts, keys and SQN state of the primary subscription) and lib/sip, over UDP. It registers with the
 * partner SIP identities (§10.6.2.2 NOTE 1) in the 24.229 form — an initial REGISTER with an empty-response
 * Authorization, the 401's AKA nonce given to the ISIM, the REGISTER with the Digest-AKA response over RES — and on a
 * synchronisation failure answers once with `auts` (RFC 3310 §3.4), as a UE whose HSS lost its counter would; on a
 * MAC failure (a challenge no vector of the user's HSS made: the registrar's decoy for an identity refused upstream)
 * it sends one REGISTER with an empty `response` and no `auts` (TS 24.229 §5.1.1.5.3) and takes the final response.
 * The same pattern as the hand-written UE of the registrar tests, on lib/sip's builder and parser.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { digestResponse, parseAkaNonce } from '../lib/aka/digest-aka.ts';
import { AkaError } from '../lib/aka/errors.ts';
import {
  createRequest, formatCredentials, newBranch, newCallId, newTag, parseMessage, serializeMessage, type DigestChallenge,
  type SipResponse,
} from '../lib/sip/index.ts';
import type { Isim } from '../ue-client/isim.ts';

/** Whom the UE registers as, and where. */
export interface DemoUeOptions {
  /** The registrar's UDP address. */
  host: string;
  port: number;
  /** The partner home domain (Request-URI, realm of the first Authorization). */
  domain: string;
  /** Partner SIP identities. */
  impi: string;
  impu: string;
  isim: Isim;
  /** Final-response wait per request (the registrar answers 504 within 2 s when the Cx path is down). */
  timeoutMs?: number;
}

/** The SIP side of the exchange, as the UE saw it. */
export interface DemoOutcome {
  /** One short line per message sent or received, keyed by seed step (2, 11, 12, 13). */
  sip: Partial<Record<number, string>>;
  /** The last final response. */
  final?: SipResponse;
  /** Why the registration did not end in 200, when it did not. */
  failure?: string;
  /** The ISIM asked for a resync on the way. */
  resynced: boolean;
  /** The ISIM found the challenge's MAC wrong (the UE then reported it with an empty response). */
  macFailure?: boolean;
}

/** A UDP client transaction per request: retransmitted every 500 ms (Timer E, RFC 3261 §17.1.2.1) until final. */
class UdpUe {
  private readonly pending = new Map<string, (r: SipResponse) => void>();

  private constructor(private readonly sock: Socket, readonly localPort: number, private readonly to: { host: string; port: number }) {
    sock.on('message', (buf) => {
      let msg;
      try {
        msg = parseMessage(buf, { datagram: true });
      } catch {
        return;
      }
      if (msg.kind !== 'response' || msg.status < 200) return;
      this.pending.get(msg.topVia().branch ?? '')?.(msg);
    });
  }

  static async open(to: { host: string; port: number }): Promise<UdpUe> {
    const sock = createSocket(to.host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, to.host, () => resolve());
    });
    return new UdpUe(sock, sock.address().port, to);
  }

  async send(bytes: Buffer, branch: string, ms: number): Promise<SipResponse | undefined> {
    const tx = (): void => this.sock.send(bytes, this.to.port, this.to.host);
    tx();
    const timer = setInterval(tx, 500);
    try {
      return await new Promise<SipResponse | undefined>((resolve) => {
        const t = setTimeout(() => resolve(undefined), ms);
        this.pending.set(branch, (r) => {
          clearTimeout(t);
          resolve(r);
        });
      });
    } finally {
      clearInterval(timer);
      this.pending.delete(branch);
    }
  }

  close(): void {
    this.sock.close();
  }
}

const describe = (r: SipResponse): string => `${r.status} ${r.reason}`;

/**
 * Registers once: REGISTER → 401 → REGISTER with RES → final response (→ one more round after a resync).
 * @returns what happened; never throws for a SIP-level failure (it is in `failure`).
 */
export async function registerDemoUe(o: DemoUeOptions): Promise<DemoOutcome> {
  const ms = o.timeoutMs ?? 5000;
  const ue = await UdpUe.open({ host: o.host, port: o.port });
  const uri = `sip:${o.domain}`;
  const dialog = { callId: newCallId(), fromTag: newTag() };
  const out: DemoOutcome = { sip: {}, resynced: false };
  let cseq = 0;
  const register = async (authorization: string): Promise<SipResponse | undefined> => {
    const branch = newBranch();
    const req = createRequest({
      method: 'REGISTER', uri, from: o.impu, to: o.impu, ...dialog, cseq: ++cseq,
      contact: `<sip:${o.impi.split('@')[0]}@${o.host}:${ue.localPort};transport=udp>`,
      headers: [['Via', `SIP/2.0/UDP ${o.host}:${ue.localPort};branch=${branch};rport`], ['Expires', '600'], ['Authorization', authorization],
        ['User-Agent', 'mcx-testbed-demo-ue']],
    });
    const res = await ue.send(serializeMessage(req), branch, ms);
    if (res) out.final = res;
    return res;
  };
  try {
    out.sip[2] = `REGISTER ${uri} as ${o.impu}, username ${o.impi}, empty response`;
    let res = await register(formatCredentials({ username: o.impi, realm: o.domain, uri, nonce: '', response: '' }));
    for (let round = 0; round < 2; round++) {
      if (!res) return { ...out, failure: `no final response to REGISTER within ${ms} ms` };
      if (res.status !== 401) return { ...out, failure: `expected 401, got ${describe(res)}` };
      const ch = res.wwwAuthenticate()[0] as DigestChallenge | undefined;
      if (!ch?.nonce || !ch.realm) return { ...out, failure: '401 without a Digest challenge' };
      out.sip[11] = `${describe(res)}, ${ch.algorithm ?? 'MD5'} realm="${ch.realm}"`;
      const { rand, autn } = parseAkaNonce(ch.nonce);
      const r = await o.isim.authenticate(rand, autn).catch((e: unknown) => {
        if (e instanceof AkaError && e.code === 'ERR_AKA_MAC_FAILURE') return undefined;
        throw e;
      });
      if (r === undefined) {
        out.macFailure = true;
        out.sip[12] = 'REGISTER with an empty response: MAC failure, the challenge is no vector of the user\'s HSS (TS 24.229 §5.1.1.5.3)';
        res = await register(formatCredentials({ username: o.impi, realm: ch.realm, uri, nonce: ch.nonce, response: '', algorithm: ch.algorithm ?? 'AKAv1-MD5' }));
        if (!res) return { ...out, failure: `no final response to the REGISTER reporting the MAC failure within ${ms} ms` };
        return { ...out, failure: `MAC failure, then ${describe(res)}` };
      }
      const sync = 'syncFailure' in r;
      const cnonce = randomBytes(8).toString('hex');
      const fields = { username: o.impi, realm: ch.realm, uri, nonce: ch.nonce, qop: 'auth' as const, nc: '00000001', cnonce };
      const response = digestResponse({ ...fields, method: 'REGISTER', password: sync ? Buffer.alloc(0) : r.res });
      const auth = formatCredentials({ ...fields, response, algorithm: ch.algorithm ?? 'AKAv1-MD5', ...(sync ? { auts: r.syncFailure.toString('base64') } : {}) });
      out.sip[12] = sync ? 'REGISTER with auts (SQN out of range: resynchronisation)' : 'REGISTER with the Digest-AKA response over RES';
      res = await register(auth);
      if (!sync) break;
      out.resynced = true;
    }
    if (!res) return { ...out, failure: `no final response to the REGISTER with credentials within ${ms} ms` };
    if (res.status !== 200) return { ...out, failure: `expected 200, got ${describe(res)}` };
    const contacts = res.contacts();
    out.sip[13] = `${describe(res)}, Contact expires=${contacts === '*' ? '?' : (contacts[0]?.expires ?? '?')}`;
    return out;
  } catch (e) {
    return { ...out, failure: e instanceof Error ? e.message : String(e) };
  } finally {
    ue.close();
  }
}
