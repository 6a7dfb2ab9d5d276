/**
 * What `mcx testbed --partners N` (N ≥ 2) prints once it serves: the same machine-readable ready line as with one
 * partner (partner A's registrar, where alice and bob register), the primary system, then each partner system with
 * its addresses and its users, and the `mcx ue migrate` command that takes carol to every partner at once.
 */
import { caPaths } from '../certs/layout.ts';
import type { SipListen } from '../registrar/config.ts';
import { addr, clientLines, metricsLine, relPath as rel, sippEscapes, statusLines } from './summary.ts';
import type { RunningTestbed } from './testbed.ts';
import { refusedIdentity, type PartnerSystem } from './topology.ts';

/** The lines of one partner system: addresses, then who may register there and how. */
function partnerLines(tb: RunningTestbed, p: PartnerSystem, i: number): string[] {
  const { testbed, layout, alice, bob, dave } = tb;
  const roles = testbed.rolesOf(p.name);
  const reg = testbed.role(roles.registrar).addresses;
  const sip = reg.sip ?? [];
  const at = (t: SipListen['transport']): string => addr(sip.find((s) => s.transport === t));
  const a = testbed.addressesOf(p.name);
  const ca = rel(caPaths(layout.pki, p.name).cert);
  const live = tb.clients?.dynamics?.find((d) => d.configuration.domain === p.realm);
  const letter = String.fromCharCode(0x41 + i);
  const out = [
    '',
    `  partner ${letter}: ${p.realm} (PKI ${rel(`${layout.pki}/${p.name}`)}: trusts the primary's CA only, not the other partners')`,
    `    SIP core (${roles.registrar})  udp://${at('udp')}  tcp://${at('tcp')}  tls://${at('tls')}  domain ${p.realm}   SIP over TLS: trust ${ca}`,
    `    Diameter (mutual TLS)  ${roles.registrar} → ${roles.mms} ${testbed.role(roles.mms).addresses.diameterUrl ?? '-'} → relay (static) / primary MMS (dynamic)`,
    `    partner IdMS ${a.partnerIssuer}   MMS migration API ${a.migrationApi || '-'}/migration/v1/configurations (trust ${ca})`,
    ...(reg.adminUrl && reg.adminTokenPath ? [`    registrations: npx mcx registrar bindings --admin ${reg.adminUrl} --admin-token-file ${rel(reg.adminTokenPath)} --tls-ca ${ca}`] : []),
    '    users:',
  ];
  if (i === 0) {
    out.push(
      `      alice, static (§10.6.2.2): partner IMPI ${tb.alicePartner.impi}   IMPU ${tb.alicePartner.impu}   (mapped to ${alice.primary.impi} in ${rel(layout.mappingsCsvOf(p.name))})`,
      `        K ${alice.k}   OP ${alice.op}   AMF ${alice.amf}   (${rel(layout.userFile)}; ISIM state ${rel(layout.isimFile)})`,
      `        SIPp: [authentication username=${tb.alicePartner.impi} aka_K=${sippEscapes(alice.k)} aka_OP=${sippEscapes(alice.op)} aka_AMF=${sippEscapes(alice.amf)}]`,
      ...clientLines(tb, 'alice').map((l) => `    ${l}`),
      `      bob, SIP Digest: SIP identity ${tb.bobImpu}   auth username ${bob.impi}   password ${bob.password}   (Digest realm ${tb.realms.primary}; ${rel(layout.passwordUserFile)})`,
      ...clientLines(tb, 'bob').map((l) => `    ${l}`),
    );
  }
  out.push(live
    ? `      carol, dynamic (§10.6.2.3): partner IMPI ${live.configuration.partner_impi} now (configuration ${live.configuration.id}, until ${live.configuration.expires_at})`
    : '      carol, dynamic (§10.6.2.3): a partner identity of her own by the migration configuration (command below)');
  if (live) out.push(...clientLines(tb, live.user.label).map((l) => `    ${l}`));
  if (i === 1 && dave) {
    const id = refusedIdentity(p);
    out.push(`      dave, refused: ${id.impi} is mapped to ${dave.primary.impi} here, but his primary allows only ${tb.partners[0]?.realm ?? '-'}: `
      + 'the HSS answers 5004 (a challenge, then 403) and the primary MMS migration_not_allowed');
  }
  return out;
}

/**
 * The summary after `testbed: ` (serveUntilSignal prefixes the role) with several partner systems.
 * @param tb the running testbed.
 */
export function formatPartnersSummary(tb: RunningTestbed): string {
  const { carol, realms, layout, testbed } = tb;
  const first = testbed.role(testbed.rolesOf().registrar).addresses.sip ?? [];
  const at = (t: SipListen['transport']): string => addr(first.find((s) => s.transport === t));
  const url = (role: 'hss' | 'relay' | 'primary-mms'): string => testbed.role(role).addresses.diameterUrl ?? '-';
  const a = testbed.addresses;
  const store = testbed.store.startsWith('redis') ? 'redis' : 'memory';
  const primaryCa = rel(caPaths(layout.pki, 'primary').cert);
  const partnerArgs = tb.partners.map((p) => {
    const pa = testbed.addressesOf(p.name);
    return `      --partner name=${p.name},idms=${pa.partnerIssuer},mms=${pa.migrationApi || '-'},ca=${rel(caPaths(layout.pki, p.name).cert)} \\`;
  });
  return [
    `ready udp=${at('udp')} tcp=${at('tcp')} tls=${at('tls')} dir=${layout.dir} user=${layout.userFile}`,
    '',
    `  ${tb.partners.length} partner systems (--partners ${tb.partners.length}); mutual TLS only between the primary and each partner`,
    `  primary system: ${realms.primary}   HSS ${url('hss')}   relay ${url('relay')}   primary MMS Cx ${url('primary-mms')}`,
    `    primary MMS binding API ${a.bindingApi || '-'} (mutual TLS, every partner's CA)   primary IdMS ${a.primaryIssuer} (trust ${primaryCa})`,
    `  PKI ${tb.pki}: ${rel(layout.pki)}   state (${store} store): ${rel(`${layout.dir}/state`)}`,
    ...statusLines(tb),
    ...tb.partners.flatMap((p, i) => partnerLines(tb, p, i)),
    '',
    `  carol (${rel(layout.dynamicUserFile)}; ISIM state ${rel(layout.dynamicIsimFile)}): primary IdMS user ${carol.username}, password ${carol.password}, ` +
      `mcptt_id ${carol.mcpttId}; K ${carol.k}   OP ${carol.op}   AMF ${carol.amf}`,
    '  our UE, carol to every partner at once (one login; a token exchange, configuration and registration per partner, all held until Ctrl-C):',
    `    npx mcx ue migrate --primary-idms ${a.primaryIssuer} --primary-ca ${primaryCa} \\`,
    ...partnerArgs,
    `      --username ${carol.username} --password-file ${rel(layout.dynamicPasswordFile)} --isim-state ${rel(layout.dynamicIsimFile)} --hold --end`,
    metricsLine(tb),
    '',
    '  Ctrl-C stops every role (DPR on every Diameter link).',
  ].join('\n');
}
