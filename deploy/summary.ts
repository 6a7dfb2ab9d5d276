/**
 * What `mcx testbed` prints once it serves: one machine-readable ready line (what tests and scripts wait for), then
 * how to point SIPp or a softphone at it.
 */
import { relative } from 'node:path';
import { caPaths } from '../certs/layout.ts';
import type { SipListen } from '../registrar/config.ts';
import type { RoleName } from './roles.ts';
import type { RunningTestbed } from './testbed.ts';

/** `\xHH` per octet: SIPp 3.6.1 takes binary AKA keys only in this form (DESIGN §4). */
function sippEscapes(hex: string): string {
  return hex.replace(/../g, (b) => `\\x${b}`);
}

function addr(b: SipListen | undefined): string {
  return b ? `${b.host.includes(':') ? `[${b.host}]` : b.host}:${b.port}` : '-';
}

/**
 * The summary after `testbed: ` (serveUntilSignal prefixes the role).
 * @param tb the running testbed.
 */
export function formatSummary(tb: RunningTestbed): string {
  const { alice, bob, carol, realms, layout, testbed } = tb;
  const sip = testbed.role('registrar').addresses.sip ?? [];
  const udp = addr(sip.find((s) => s.transport === 'udp'));
  const tcp = addr(sip.find((s) => s.transport === 'tcp'));
  const tls = addr(sip.find((s) => s.transport === 'tls'));
  const url = (role: RoleName): string => testbed.role(role).addresses.diameterUrl ?? '-';
  const a = testbed.addresses;
  const store = testbed.store.startsWith('redis') ? 'redis' : 'memory';
  const rel = (p: string): string => (relative(process.cwd(), p).startsWith('..') ? p : relative(process.cwd(), p) || '.');
  return [
    `ready udp=${udp} tcp=${tcp} tls=${tls} dir=${layout.dir} user=${layout.userFile}`,
    '',
    `  partner SIP core (registrar)  udp://${udp}  tcp://${tcp}  tls://${tls}  domain ${realms.partner}`,
    `                                SIP over TLS: trust the partner CA ${rel(caPaths(layout.pki, 'partner').cert)}`,
    `  Diameter (mutual TLS)         registrar → partner MMS ${url('partner-mms')} → relay ${url('relay')} → HSS ${url('hss')}`,
    `  PKI ${tb.pki}: ${rel(layout.pki)}   state (${store} store): ${rel(`${layout.dir}/state`)}`,
    '',
    `  migrating AKA user (${rel(layout.userFile)}; ISIM state ${rel(layout.isimFile)})`,
    `    partner IMPI ${alice.partner.impi}   IMPU ${alice.partner.impu}   (mapped to ${alice.primary.impi} in ${rel(layout.mappingsCsv)})`,
    `    K ${alice.k}   OP ${alice.op}   AMF ${alice.amf}`,
    `  SIPp (sip-tester 3.6.1) over UDP: a REGISTER scenario as in peers/sipp-register-aka.xml.tmpl with`,
    `    [authentication username=${alice.partner.impi} aka_K=${sippEscapes(alice.k)} aka_OP=${sippEscapes(alice.op)} aka_AMF=${sippEscapes(alice.amf)}]`,
    `    sipp ${udp} -sf register.xml -t u1 -m 1 -i 127.0.0.1`,
    `  password user for plain MD5 softphones (${rel(layout.passwordUserFile)})`,
    `    SIP identity ${bob.impu}   auth username ${bob.impi}   password ${bob.password}   registrar ${udp} (UDP) / ${tcp} (TCP)`,
    `    (Digest realm in the challenge: ${realms.primary}, the primary HSS's)`,
    `  dynamically migrating user (${rel(layout.dynamicUserFile)}; ISIM state ${rel(layout.dynamicIsimFile)}), TS 23.280 §10.6.2.3`,
    `    primary IdMS ${a.primaryIssuer} (user ${carol.username}, password ${carol.password}, mcptt_id ${carol.mcpttId}; trust ${rel(caPaths(layout.pki, 'primary').cert)})`,
    `    partner IdMS ${a.partnerIssuer}   partner MMS migration API ${(a.migrationApi || '-')}/migration/v1/configurations (trust ${rel(caPaths(layout.pki, 'partner').cert)})`,
    `    primary identities ${carol.primary.impi} ${carol.primary.impu}   K ${carol.k}   OP ${carol.op}   AMF ${carol.amf}`,
    `    primary MMS binding API ${(a.bindingApi || '-')} (mutual TLS, partner CA), Cx ${url('primary-mms')}`,
    `  our UE, the whole dynamic flow (login … REGISTER; --end deletes the configuration afterwards):`,
    `    npx mcx ue migrate --primary-idms ${a.primaryIssuer} --partner-idms ${a.partnerIssuer} --partner-mms ${(a.migrationApi || '-')} \\`,
    `      --username ${carol.username} --password-file ${rel(layout.dynamicPasswordFile)} --primary-ca ${rel(caPaths(layout.pki, 'primary').cert)} --partner-ca ${rel(caPaths(layout.pki, 'partner').cert)} \\`,
    `      --isim-state ${rel(layout.dynamicIsimFile)} --end`,
    '',
    '  Ctrl-C stops every role (DPR on every Diameter link).',
  ].join('\n');
}
