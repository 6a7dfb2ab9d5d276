/**
 * `mcx selfcheck`: the main job until the all-in-one testbed exists. It exercises, on this machine, the pieces the
 * testbed will stand on — PKI, Milenage, the HE/USIM AKA exchange, resync and Digest-AKA — and prints each step.
 * Exit 0 only when every step holds.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { CommandModule } from '../lib/cli.ts';
import {
  Milenage, generateVector, decodeAuts, resyncDecision, nextSqn, akaNonce, parseAkaNonce, digestResponse,
  verifyDigestResponse, AkaError,
} from '../lib/aka/index.ts';
import { Isim } from '../ue-client/isim.ts';
import { initPki } from '../certs/issue.ts';
import { certPaths, caPaths } from '../certs/layout.ts';

/** TS 35.208 test set 1 (also in ../shared/vectors/milenage.json); kept here so the check runs without shared/. */
const SET1 = {
  k: '465b5ce8b199b49faa5f0a2ee238a6bc', op: 'cdc202d5123e20f62b6d676ac72cb318', rand: '23553cbe9637a89d218ae64dae47bf35',
  sqn: 'ff9bb4d0b607', amf: 'b9b9', opc: 'cd63cb71954a9f4e48a5994e37a02baf', f1: '4a9ffac354dfafb3', f2: 'a54211d5e3ba50bf',
  f3: 'b40ba9a3c58b2a05bbf0d987b21bf8cb', f4: 'f769bcd751044604127672711c6d3441', f5: 'aa689c648370',
};

const hex = (s: string) => Buffer.from(s, 'hex');

class Check {
  failures = 0;
  step(name: string, ok: boolean, detail = ''): void {
    if (!ok) this.failures++;
    process.stdout.write(`${ok ? 'ok  ' : 'FAIL'}  ${name}${detail ? `  (${detail})` : ''}\n`);
  }
}

async function pkiCheck(c: Check, dir: string): Promise<void> {
  await initPki({ dir, systems: [{ name: 'primary', realm: 'primary.mcx.test' }, { name: 'partner', realm: 'partner.mcx.test' }] });
  for (const [sys, role] of [['primary', 'hss'], ['partner', 'registrar']] as const) {
    const leaf = new X509Certificate(await readFile(certPaths(dir, sys, role).cert));
    const ca = new X509Certificate(await readFile(caPaths(dir, sys).cert));
    c.step(`PKI: ${role}.${sys} certificate is signed by the ${sys} CA`, leaf.verify(ca.publicKey), leaf.subjectAltName ?? '');
  }
  const partnerLeaf = new X509Certificate(await readFile(certPaths(dir, 'partner', 'registrar').cert));
  const primaryCa = new X509Certificate(await readFile(caPaths(dir, 'primary').cert));
  c.step('PKI: a partner certificate does not verify against the primary CA', !partnerLeaf.verify(primaryCa.publicKey));
}

async function akaCheck(c: Check, dir: string): Promise<void> {
  const m = Milenage.fromOp(hex(SET1.k), hex(SET1.op));
  const keys = m.f2345(hex(SET1.rand));
  const macs = m.f1(hex(SET1.rand), hex(SET1.sqn), hex(SET1.amf));
  c.step('Milenage (TS 35.208 set 1): OPc, f1, f2, f3, f4, f5',
    m.opc.equals(hex(SET1.opc)) && macs.macA.equals(hex(SET1.f1)) && keys.res.equals(hex(SET1.f2)) &&
      keys.ck.equals(hex(SET1.f3)) && keys.ik.equals(hex(SET1.f4)) && keys.ak.equals(hex(SET1.f5)));

  const isim = await Isim.open(join(dir, 'isim.json'), {
    k: hex(SET1.k), op: hex(SET1.op), impi: 'alice@primary.mcx.test', impus: ['sip:alice@primary.mcx.test'], domain: 'primary.mcx.test',
  });
  // HE counter starts one SEQ in, so the first SQN is fresh (SEQ 0 never is, digest §4.3).
  let last = 0x20n;
  const sqn1 = nextSqn(last);
  last = sqn1;
  const av = generateVector({ milenage: m, sqn: sqn1, amf: hex('8000') });
  const nonce = akaNonce(av.rand, av.autn);
  const parsed = parseAkaNonce(nonce);
  const r1 = await isim.authenticate(parsed.rand, parsed.autn);
  c.step(`AKA: ISIM accepts a fresh vector (SQN ${sqn1.toString(16).padStart(12, '0')}) and RES = XRES`, !('syncFailure' in r1) && r1.res.equals(av.xres));

  const fields = { username: 'alice@primary.mcx.test', realm: 'partner.mcx.test', uri: 'sip:partner.mcx.test', nonce, nc: '00000001', cnonce: 'c0ffee01', qop: 'auth' as const };
  if (!('syncFailure' in r1)) {
    const ue = digestResponse({ ...fields, method: 'REGISTER', password: r1.res });
    const net = digestResponse({ ...fields, method: 'REGISTER', password: av.xres });
    c.step('Digest-AKAv1-MD5 (RFC 3310): UE response verifies with XRES', verifyDigestResponse(net, ue), ue);
  }

  const r2 = await isim.authenticate(av.rand, av.autn);
  const replayOk = 'syncFailure' in r2;
  c.step('AKA: the same vector again is a sync failure (TS 33.102 Annex C.2)', replayOk);
  if ('syncFailure' in r2) {
    const d = decodeAuts(m, av.rand, r2.syncFailure);
    c.step('Resync: the home side decodes AUTS to SQN_MS with a valid MAC-S (§6.3.5)', d.macValid && d.sqnMs === sqn1, `SQN_MS ${d.sqnMs.toString(16)}`);
    const decision = resyncDecision(last, d.sqnMs);
    const sqn2 = nextSqn(decision.newLastSqn);
    const av2 = generateVector({ milenage: m, sqn: sqn2, amf: hex('8000') });
    const r3 = await isim.authenticate(av2.rand, av2.autn);
    c.step('Resync: the next vector after resync is accepted', !('syncFailure' in r3));
  }

  const tampered = generateVector({ milenage: m, sqn: nextSqn(nextSqn(last)), amf: hex('8000') });
  tampered.autn[15] = (tampered.autn[15] as number) ^ 0x01;
  let macFailure = false;
  try {
    await isim.authenticate(tampered.rand, tampered.autn);
  } catch (err) {
    macFailure = err instanceof AkaError && err.code === 'ERR_AKA_MAC_FAILURE';
  }
  c.step('AKA: a flipped MAC bit is a MAC failure (network not authentic, §6.3.3)', macFailure);

  // Closed first: a second open in the same process would share the state in memory, not read the file again.
  await isim.close();
  const reopened = await Isim.open(join(dir, 'isim.json'));
  try {
    const r4 = await reopened.authenticate(av.rand, av.autn);
    c.step('ISIM state survives a restart: the old vector is still refused', 'syncFailure' in r4);
  } finally {
    await reopened.close();
  }
}

/** Runs every check in a temporary folder; resolves with the number of failed steps. */
export async function runSelfcheck(): Promise<number> {
  const c = new Check();
  const dir = await mkdtemp(join(tmpdir(), 'mcx-selfcheck-'));
  try {
    await pkiCheck(c, join(dir, 'pki'));
    await akaCheck(c, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  process.stdout.write(c.failures ? `selfcheck: ${c.failures} step(s) failed\n` : 'selfcheck: all steps passed\n');
  return c.failures;
}

/** Adds `mcx selfcheck`. */
export const selfcheckCommand: CommandModule = (program) => {
  program
    .command('selfcheck')
    .description('check PKI, Milenage and the AKA exchange (ISIM, resync, Digest-AKA) on this machine')
    .action(async () => {
      if ((await runSelfcheck()) > 0) process.exitCode = 1;
    });
};
