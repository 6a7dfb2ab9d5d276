/**
 * Networks for the UE tests, on loopback with real sockets: a Kamailio 5.6 S-CSCF whose Cx peer is our HSS run as
 * `mcx hss` with subscribers from a CSV, or our registrar (`startRegistrar`) in front of an in-process HSS. Plus
 * random subscribers, ISIM files (opened and closed again by {@link withIsim}), and running the UE through run.ts with
 * captured output.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHss, type RunningHss } from '../../hss/run.ts';
import { silentLogger } from '../../lib/log.ts';
import { startRegistrar, type RunningRegistrar } from '../../registrar/server.ts';
import type { RegistrarConfig } from '../../registrar/config.ts';
import { Isim } from '../../ue-client/isim.ts';
import { parseUeOptions } from '../../ue-client/options.ts';
import { runRegister, type UeIo } from '../../ue-client/run.ts';
import { startKamailio, type Kamailio } from '../helpers/kamailio.ts';
import { freePorts } from '../helpers/ports.ts';
import { startMcx, type Proc } from '../helpers/process.ts';

/** An AKA subscriber: what the HSS is provisioned with and what the UE's ISIM gets. */
export interface Subscriber {
  impi: string;
  impu: string;
  k: string;
  op: string;
  amf: string;
}

/** A subscriber `name@realm` with random K and OP (no 0x00 first octet, which SIPp-era tools mishandle). */
export function subscriber(name: string, realm: string): Subscriber {
  const key = (): string => {
    for (;;) {
      const b = randomBytes(16);
      if (b[0] !== 0) return b.toString('hex');
    }
  };
  return { impi: `${name}@${realm}`, impu: `sip:${name}@${realm}`, k: key(), op: key(), amf: '8000' };
}

/** The HSS CSV of `subs`, with `opOverride` replacing the OP of the named IMPIs (a network with the wrong OP). */
export function subscribersCsv(subs: readonly Subscriber[], opOverride: Record<string, string> = {}): string {
  // The subscriber's own domain is where it registers (our registrar's realm): the HSS must allow it (DESIGN §2.3).
  return ['impi,impus,k,op,amf,allowed_partners', ...subs.map((s) => `${s.impi},${s.impu},${s.k},${opOverride[s.impi] ?? s.op},${s.amf},${s.impi.split('@')[1] ?? ''}`)].join('\n') + '\n';
}

/** A temp directory. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Kamailio's S-CSCF with `mcx hss` behind it. */
export interface KamailioNet {
  realm: string;
  hss: Proc;
  kam: Kamailio;
  sipPort: number;
  /** The last lines of both processes, for assertion messages. */
  diag(): string;
  close(): Promise<void>;
}

/** Starts `mcx hss` (memory store, subscribers from `csv`) and Kamailio as its S-CSCF for `realm`. */
export async function startKamailioNet(dir: string, realm: string, csv: string): Promise<KamailioNet> {
  const [dport, aport, sport] = (await freePorts(3)) as [number, number, number];
  await writeFile(join(dir, 'subscribers.csv'), csv);
  const hss = startMcx(['hss', '--listen', `127.0.0.1:${dport}`, '--origin-host', `hss.${realm}`, '--realm', realm,
    '--subscribers', join(dir, 'subscribers.csv'), '--state-dir', join(dir, 'hss-state'), '--admin', '127.0.0.1:0']);
  await hss.waitFor(/hss: listening/, 30_000);
  let kam: Kamailio;
  try {
    kam = await startKamailio({ realm, sipPort: sport, diameterPort: dport, acceptorPort: aport });
  } catch (err) {
    await hss.stop();
    throw err;
  }
  return {
    realm, hss, kam, sipPort: sport,
    diag: () => `\n--- kamailio ---\n${kam.proc.output().slice(-2500)}\n--- hss ---\n${hss.output().slice(-1500)}`,
    async close() {
      await kam.stop();
      await hss.stop();
    },
  };
}

/** Our registrar in front of an in-process HSS (realm `hssRealm`), on ephemeral ports. */
export interface RegistrarNet {
  hss: RunningHss;
  registrar: RunningRegistrar;
  port(transport: 'UDP' | 'TCP' | 'TLS'): number;
  close(): Promise<void>;
}

/** Starts the HSS with `csv` and the registrar for `domain` with `over` (e.g. TLS listeners). */
export async function startRegistrarNet(dir: string, domain: string, hssRealm: string, csv: string, over: Partial<RegistrarConfig> = {}): Promise<RegistrarNet> {
  const tag = randomBytes(3).toString('hex');
  await writeFile(join(dir, `subscribers-${tag}.csv`), csv);
  const hss = await startHss({
    listen: { host: '127.0.0.1', port: 0 }, originHost: `hss.${hssRealm}`, realm: hssRealm, subscribersCsv: join(dir, `subscribers-${tag}.csv`),
    store: 'memory', stateDir: join(dir, `hss-${tag}`), randPolicy: 'uniform', admin: { host: '127.0.0.1', port: 0 }, logger: silentLogger,
  });
  const registrar = await startRegistrar({
    sip: [{ transport: 'udp', host: '127.0.0.1', port: 0 }, { transport: 'tcp', host: '127.0.0.1', port: 0 }], domain,
    hss: [{ host: '127.0.0.1', port: Number(/:(\d+)$/.exec(hss.diameterUrl)?.[1]) }], originHost: `registrar.${domain}`, realm: domain,
    hssRealm, stateDir: join(dir, `registrar-${tag}`), minExpires: 2, maxExpires: 3600, logger: silentLogger, ...over,
  });
  return {
    hss, registrar,
    port(transport) {
      const a = registrar.addresses.sip.find((s) => s.transport === transport);
      if (!a) throw new Error(`registrar has no ${transport} listener`);
      return a.port;
    },
    async close() {
      await registrar.close();
      await hss.close();
    },
  };
}

/** Runs `f` on the ISIM kept in `file`, then closes it (releasing the file's lock) whatever `f` did. */
export async function withIsim<T>(file: string, f: (isim: Isim) => T | Promise<T>): Promise<T> {
  const isim = await Isim.open(file);
  try {
    return await f(isim);
  } finally {
    await isim.close();
  }
}

/** The `mcx ue register` flags for `s` at `registrar`. */
export function ueFlags(s: Subscriber, domain: string, registrar: string, isimState: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { registrar, domain, impi: s.impi, impu: s.impu, k: s.k, op: s.op, amf: s.amf, 'isim-state': isimState, ...extra };
}

/** What a run printed and returned. */
export interface UeRun {
  status: number;
  out: string[];
  err: string[];
  /** The ladder lines (those with an arrow or `UE registered`). */
  ladder: string[];
  ms: number;
}

/** Runs `mcx ue register` in-process through run.ts with these flags. */
export async function runUe(flags: Record<string, unknown>): Promise<UeRun> {
  const out: string[] = [];
  const err: string[] = [];
  const io: UeIo = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const t0 = Date.now();
  const status = await runRegister(await parseUeOptions(flags), io);
  return { status, out, err, ladder: out.filter((l) => /UE [←→]|UE registered/.test(l)), ms: Date.now() - t0 };
}

/** The ladder in short forms (`→ REGISTER 2`, `← 401 11`, `→ REGISTER auts 12`, `registered 14`) for order assertions. */
export function ladderShape(lines: readonly string[]): string[] {
  return lines.map((l) => {
    let rest = l.replace(/^\s*[\d.]+s\s+/, '').replace(/\s+\[×[^\]]*\]$/, '');
    const step = /\s\(step (\d+)\)$/.exec(rest)?.[1];
    rest = rest.replace(/\s\(step \d+\)$/, '').replace(/ — .*$/, '');
    const m = /^UE ([←→]) \S+\s+(.*)$/.exec(rest);
    const label = m ? `${m[1]} ${(m[2] as string).replace(/^(\d{3}) .*$/, '$1')}` : rest.replace(/^UE /, '');
    return step ? `${label} ${step}` : label;
  });
}
