/**
 * What `mcx testbed` prints once it serves: one machine-readable ready line (what tests and scripts wait for), then
 * how to point SIPp or a softphone at it.
 */
import { relative } from 'node:path';
import { caPaths } from '../certs/layout.ts';
import type { SipListen } from '../registrar/config.ts';
import type { ClientFile } from '../ue-client/softphones/files.ts';
import type { RoleName } from './roles.ts';
import type { RunningTestbed } from './testbed.ts';

/** `\xHH` per octet: SIPp 3.6.1 takes binary AKA keys only in this form (DESIGN §4). */
export function sippEscapes(hex: string): string {
  return hex.replace(/../g, (b) => `\\x${b}`);
}

/** `host:port` of a listener (IPv6 bracketed), `-` for none. */
export function addr(b: SipListen | undefined): string {
  return b ? `${b.host.includes(':') ? `[${b.host}]` : b.host}:${b.port}` : '-';
}

/** `p` relative to the working directory when it lies below it (shorter to copy), else as it is. */
export function relPath(p: string): string {
  return relative(process.cwd(), p).startsWith('..') ? p : relative(process.cwd(), p) || '.';
}

/** The lines naming the softphone files of `label` (and why a client got none). */
export function clientLines(tb: RunningTestbed, label: string): string[] {
  const c = tb.clients;
  if (!c) return [];
  const what: Record<ClientFile['client'], string> = {
    twinkle: 'Twinkle 1.10.2 (twinkle-console; -tcp.cfg over TCP)', sipp: 'SIPp 3.6.1 (UDP; -t t1 over TCP)',
    linphone: 'linphonec (-tcp/-tls.linphonerc over TCP/TLS)', baresip: 'baresip 1.0',
  };
  const seen = new Set<string>();
  const out: string[] = [];
  for (const f of c.files.filter((x) => x.label === label)) {
    if (seen.has(f.client)) continue;
    seen.add(f.client);
    out.push(`    ${what[f.client]}:  ${f.run}`);
  }
  for (const s of c.skipped.filter((x) => x.label === label)) out.push(`    no ${s.client} file: ${s.reason}`);
  return out;
}

/** The line naming the testbed's Prometheus endpoint (the summary's first `/metrics` URL) and its health checks. */
export function metricsLine(tb: RunningTestbed): string {
  return `  Prometheus metrics of every role (no token, loopback): ${tb.metricsUrl}/metrics   labels system, role   health ${tb.metricsUrl}/healthz, ${tb.metricsUrl}/readyz`;
}

/** What `mcx ue migrate` is given against this testbed, as printed lines (`tail`: the flags that end the command). */
function migrateCommand(tb: RunningTestbed, rel: (p: string) => string, tail: string): string[] {
  const { carol, layout } = tb;
  const a = tb.testbed.addresses;
  return [
    `    npx mcx ue migrate --primary-idms ${a.primaryIssuer} --partner-idms ${a.partnerIssuer} --partner-mms ${(a.migrationApi || '-')} \\`,
    `      --username ${carol.username} --password-file ${rel(layout.dynamicPasswordFile)} --primary-ca ${rel(caPaths(layout.pki, 'primary').cert)} --partner-ca ${rel(caPaths(layout.pki, 'partner').cert)} \\`,
    `      ${tail}`,
  ];
}

/** The dynamic identity lines: the one the demo left live, and how to get one for a softphone. */
function dynamicLines(tb: RunningTestbed, rel: (p: string) => string): string[] {
  const d = tb.clients?.dynamic;
  const out: string[] = [];
  if (d) {
    const c = d.configuration;
    out.push(`  carol's dynamic partner identity now: IMPI ${c.partner_impi}   IMPU ${c.partner_impus[0] ?? '-'}   (configuration ${c.id}, until ${c.expires_at};`,
      '    the command above with --end deletes it, and then these files stop registering)', ...clientLines(tb, d.user.label));
  }
  return [
    ...out,
    `  a dynamic identity for a softphone (IdM steps and migration configuration, no REGISTER; its files into ${rel(tb.layout.clientsDir)}):`,
    ...migrateCommand(tb, rel, `--isim-state ${rel(tb.layout.dynamicIsimFile)} --configure-only --clients-dir ${rel(tb.layout.clientsDir)}`),
    '    it prints the command that ends it (the same with --end-only --id <configuration id>)',
  ];
}

/** The status page's line (none with `--status-port off`). */
export function statusLines(tb: RunningTestbed): string[] {
  return tb.status ? [`  status page ${tb.status.url}   (every registration's ladder, live; the roles' state; read-only)`] : [];
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
  const rel = relPath;
  const tlsName = tb.clients?.at.tls?.name;
  const admin = testbed.role('registrar').addresses;
  return [
    `ready udp=${udp} tcp=${tcp} tls=${tls} dir=${layout.dir} user=${layout.userFile}`,
    '',
    `  partner SIP core (registrar)  udp://${udp}  tcp://${tcp}  tls://${tls}  domain ${realms.partner}`,
    `                                SIP over TLS: trust the partner CA ${rel(caPaths(layout.pki, 'partner').cert)}`,
    `  Diameter (mutual TLS)         registrar → partner MMS ${url('partner-mms')} → relay ${url('relay')} → HSS ${url('hss')}`,
    `  PKI ${tb.pki}: ${rel(layout.pki)}   state (${store} store): ${rel(`${layout.dir}/state`)}`,
    ...statusLines(tb),
    '',
    `  migrating AKA user (${rel(layout.userFile)}; ISIM state ${rel(layout.isimFile)})`,
    `    partner IMPI ${alice.partner.impi}   IMPU ${alice.partner.impu}   (mapped to ${alice.primary.impi} in ${rel(layout.mappingsCsv)})`,
    `    K ${alice.k}   OP ${alice.op}   AMF ${alice.amf}`,
    `  SIPp (sip-tester 3.6.1) over UDP: a REGISTER scenario as in peers/sipp-register-aka.xml.tmpl with`,
    `    [authentication username=${alice.partner.impi} aka_K=${sippEscapes(alice.k)} aka_OP=${sippEscapes(alice.op)} aka_AMF=${sippEscapes(alice.amf)}]`,
    `    sipp ${udp} -sf register.xml -t u1 -m 1 -i 127.0.0.1`,
    ...clientLines(tb, 'alice'),
    `  password user for plain MD5 softphones (${rel(layout.passwordUserFile)})`,
    `    SIP identity ${bob.impu}   auth username ${bob.impi}   password ${bob.password}   registrar ${udp} (UDP) / ${tcp} (TCP)`,
    `    (Digest realm in the challenge: ${realms.primary}, the primary HSS's; algorithms offered: ${testbed.digestAlgorithms.join(', ')})`,
    ...(tlsName ? [`    SIP over TLS: tls://${tlsName}:${sip.find((x) => x.transport === 'tls')?.port ?? '-'} (dial the name ${tlsName}: the registrar certificate carries it, and Debian's ` +
      `linphone (mbedTLS) cannot match an IP address), trusting ${rel(caPaths(layout.pki, 'partner').cert)}`] : []),
    ...clientLines(tb, 'bob'),
    `  dynamically migrating user (${rel(layout.dynamicUserFile)}; ISIM state ${rel(layout.dynamicIsimFile)}), TS 23.280 §10.6.2.3`,
    `    primary IdMS ${a.primaryIssuer} (user ${carol.username}, password ${carol.password}, mcptt_id ${carol.mcpttId}; trust ${rel(caPaths(layout.pki, 'primary').cert)})`,
    `    partner IdMS ${a.partnerIssuer}   partner MMS migration API ${(a.migrationApi || '-')}/migration/v1/configurations (trust ${rel(caPaths(layout.pki, 'partner').cert)})`,
    `    primary identities ${carol.primary.impi} ${carol.primary.impu}   K ${carol.k}   OP ${carol.op}   AMF ${carol.amf}`,
    `    primary MMS binding API ${(a.bindingApi || '-')} (mutual TLS, partner CA), Cx ${url('primary-mms')}`,
    `  our UE, the whole dynamic flow (login … REGISTER; --end deletes the configuration afterwards):`,
    ...migrateCommand(tb, rel, `--isim-state ${rel(layout.dynamicIsimFile)} --end`),
    ...dynamicLines(tb, rel),
    ...(admin.adminUrl && admin.adminTokenPath ? [
      `  registrations at the registrar: npx mcx registrar bindings --admin ${admin.adminUrl} --admin-token-file ${rel(admin.adminTokenPath)} --tls-ca ${rel(caPaths(layout.pki, 'partner').cert)}`,
    ] : []),
    metricsLine(tb),
    '',
    '  Ctrl-C stops every role (DPR on every Diameter link).',
  ].join('\n');
}
