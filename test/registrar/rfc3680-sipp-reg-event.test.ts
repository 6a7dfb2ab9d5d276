/**
 * RFC 3680 / RFC 6665 interop with SIPp (Debian sip-tester 3.6.1) as a TS 24.229 UE: it registers with IMS AKA (the
 * proven ../shared/peers template), subscribes to its reg event, checks the NOTIFY that follows the 200 (Event,
 * Subscription-State active, a full reginfo document with its contact active), answers it, then ends the subscription
 * in the dialog (`Expires: 0`, To tag from the 200) and checks the last NOTIFY (`terminated;reason=timeout`). SIPp
 * matches each message to its scenario step and fails the call on anything else, so the exchange is checked by a SIP
 * implementation that is not ours.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { freePorts } from '../helpers/ports.ts';
import { runSipp, writeAkaScenario } from '../helpers/sipp.ts';
import { DOMAIN, akaUser, registrarFixture, sipPort, type AkaUser } from './helpers.ts';

/** SIPp 3.6.1 reads a K or OP whose first octet is 0x00 wrongly. */
function sippSafeUser(name: string): AkaUser {
  for (;;) {
    const u = { ...akaUser(name), impus: [`sip:${name}@${DOMAIN}`] };
    if (!u.k.startsWith('00') && !u.op.startsWith('00')) return u;
  }
}

const users = [sippSafeUser('sippsub0'), sippSafeUser('sippsub1')];

/** A SUBSCRIBE of the scenario's call (same Call-ID as its REGISTERs: they make no dialog). */
function subscribe(impu: string, cseq: number, expires: number, inDialog: boolean): string {
  return `  <send retrans="500">
    <![CDATA[

      SUBSCRIBE ${impu} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      Max-Forwards: 70
      From: <${impu}>;tag=[pid]SIPpSub[call_number]
      To: <${impu}>${inDialog ? '[peer_tag_param]' : ''}
      Call-ID: [call_id]
      CSeq: ${cseq} SUBSCRIBE
      Contact: <sip:ue@[local_ip]:[local_port];transport=[transport]>
      Event: reg
      Accept: application/reginfo+xml
      Expires: ${expires}
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
`;
}

/** Receives a NOTIFY, checks it with SIPp's own regular expressions, answers 200. */
function notify(name: string, checks: Array<{ re: string; in: 'body' | 'Subscription-State:' | 'Event:' }>): string {
  // In an XML attribute: < and & escaped (SIPp's parser refuses them raw).
  const attr = (re: string): string => re.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const eregs = checks.map((c, i) => c.in === 'body'
    ? `<ereg regexp="${attr(c.re)}" search_in="body" check_it="true" assign_to="${name}${i}"/>`
    : `<ereg regexp="${attr(c.re)}" search_in="hdr" header="${c.in}" check_it="true" assign_to="${name}${i}"/>`).join('\n        ');
  // SIPp refuses a variable set and never read: the Reference element reads them.
  const vars = checks.map((_, i) => `${name}${i}`).join(',');
  return `  <recv request="NOTIFY">
    <action>
        ${eregs}
    </action>
  </recv>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <Reference variables="${vars}"/>
`;
}

describe('RFC 3680: SIPp subscribes to its reg event at the registrar', () => {
  const f = registrarFixture({ aka: users, hss: { randPolicy: 'sipp361' } });
  let local: number[];

  before(async () => {
    local = await freePorts(users.length);
  });

  for (const [i, transport] of (['udp', 'tcp'] as const).entries()) {
    test(`${transport}: REGISTER (AKA) → SUBSCRIBE → 200 → NOTIFY active → SUBSCRIBE Expires: 0 → 200 → NOTIFY terminated;reason=timeout`, { timeout: 60_000 }, async () => {
      const u = users[i] as AkaUser;
      const impu = u.impus[0] as string;
      const base = writeAkaScenario({ domain: DOMAIN, impi: u.impi, impu, k: u.k, op: u.op, amf: u.amf }, f.dir);
      const xml = readFileSync(base, 'utf8');
      const end = xml.lastIndexOf('</scenario>');
      const steps = subscribe(impu, 3, 600000, false)
        + notify('first', [{ re: '^ *reg$', in: 'Event:' }, { re: '^ *active;expires=[0-9]+$', in: 'Subscription-State:' },
          { re: 'state=.full.', in: 'body' }, { re: `<registration aor=.${impu}. id=.[0-9a-f]+. state=.active.>`, in: 'body' },
          { re: 'state=.active. event=.registered.', in: 'body' }])
        + subscribe(impu, 4, 0, true)
        + notify('last', [{ re: '^ *terminated;reason=timeout$', in: 'Subscription-State:' }, { re: 'version=.1.', in: 'body' }]);
      const scenario = base.replace(/\.xml$/, `-reg-event-${transport}.xml`);
      writeFileSync(scenario, xml.slice(0, end) + steps + xml.slice(end));
      const before = { subs: f.reg.stats.get('reg_subscriptions'), notifies: f.reg.stats.get('reg_notifies'), failed: f.reg.stats.get('reg_notify_failures') };
      const r = await runSipp(`127.0.0.1:${sipPort(f.reg, transport === 'udp' ? 'UDP' : 'TCP')}`, scenario, { transport, localPort: local[i] as number, timeoutS: 20 });
      assert.equal(r.code, 0, `sipp exit ${r.code}\n${r.output.slice(-3000)}`);
      assert.equal(f.reg.stats.get('reg_subscriptions') - before.subs, 1);
      assert.equal(f.reg.stats.get('reg_notifies') - before.notifies, 2);
      assert.equal(f.reg.stats.get('reg_notify_failures') - before.failed, 0);
    });
  }
});
