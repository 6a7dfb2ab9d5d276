/**
 * SIPp 3.6.1 (Debian `sip-tester`) as an IMS AKA UE of one user: a REGISTER scenario (24.229 initial REGISTER with an
 * empty-nonce Authorization → 401 → Digest-AKA answer → 200) and the injection file naming the identities,
 * `sipp HOST:PORT -sf <label>.xml -inf <label>.csv -t u1 -m 1`.
 *
 * K, OP and AMF are in the scenario, as unquoted `\xHH` escapes (SIPp's `0x…` form breaks on some octets; DESIGN §4):
 * SIPp 3.6.1 does not substitute injection fields inside them. The identities come from the file (`[field0]` IMPI,
 * `[field1]` IMPU, `[field2]` domain); inside `[authentication …]` the field is quoted, or SIPp ends the keyword at the
 * field's `]`. SIPp 3.6.1 checks the MAC with the AMF it is given, hashes RES as a C string (the testbed's HSS avoids
 * RES with 0x00 octets under `--rand-policy sipp361`) and has no TLS.
 */
import { rawKeyProblem, type AkaClientUser } from './model.ts';

/** `\xHH` per octet. */
function escapes(b: Buffer): string {
  return [...b].map((x) => `\\x${x.toString(16).padStart(2, '0')}`).join('');
}

/** One REGISTER of the scenario. */
function register(cseq: number, authorization: string): string {
  return `  <send retrans="500">
    <![CDATA[

      REGISTER sip:[field2] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      Max-Forwards: 70
      From: <[field1]>;tag=[pid]SIPpTag00[call_number]
      To: <[field1]>
      Call-ID: [call_id]
      CSeq: ${cseq} REGISTER
      Contact: <sip:ue@[local_ip]:[local_port];transport=[transport]>
      ${authorization}
      Expires: 3600
      User-Agent: sipp-mcx
      Content-Length: 0

    ]]>
  </send>`;
}

/**
 * The scenario of `u` (its keys inside).
 * @throws Error naming key octets SIPp cannot take.
 */
export function sippScenario(u: AkaClientUser): string {
  const problem = rawKeyProblem('K', u.k) ?? rawKeyProblem('OP', u.op);
  if (problem) throw new Error(`SIPp scenario of ${u.impi}: ${problem}`);
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- IMS AKA registration of ${u.impi} (K, OP, AMF inside), written by mcx: sipp HOST:PORT -sf THIS -inf ${u.label}.csv -t u1 -m 1 -->
<scenario name="ims_aka_register">
${register(1, 'Authorization: Digest username="[field0]", realm="[field2]", uri="sip:[field2]", nonce="", response=""')}
  <recv response="401" auth="true"/>
${register(2, `[authentication username="[field0]" aka_K=${escapes(u.k)} aka_OP=${escapes(u.op)} aka_AMF=${escapes(u.amf)}]`)}
  <recv response="200"/>
</scenario>
`;
}

/** The injection file of `u`: `IMPI;IMPU;domain;`. */
export function sippInjection(u: AkaClientUser): string {
  return `SEQUENTIAL\n${u.impi};${u.impu};${u.domain};\n`;
}
