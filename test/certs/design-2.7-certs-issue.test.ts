/**
 * DESIGN §2.7 / `mcx certs issue` (the real CLI): one more TLS leaf for an instance of a role (a second MMS of the
 * partner system) under the existing CA — it verifies under that CA with OpenSSL, carries exactly one identity URI
 * `mcx://<realm>/<role>` and `OU=<role>`, is recorded in the manifest and shown by `certs show`, and works: the
 * primary relay admits a CER with it (the handler sees the role). Bad arguments exit 2 naming the field; an existing
 * leaf is replaced only with --force; a version-1 PKI is refused naming `mcx certs init --force`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { initPki } from '../../certs/issue.ts';
import { caPaths, issuedLeafPaths, loadTlsMaterial, manifestPath, readManifest } from '../../certs/layout.ts';
import { ApplicationId, ResultCode } from '../../lib/diameter/constants.ts';
import { CxCommand, buildMaa, buildMar, readMaa } from '../../lib/diameter/cx/index.ts';
import { CX_APPLICATION, type HandlerContext } from '../../lib/diameter/node.ts';
import { startMcx } from '../helpers/process.ts';
import { Nodes } from '../diameter/harness.ts';

const run = promisify(execFile);
const PRIMARY = 'ims.primary.example';
const PARTNER = 'ims.partner.example';
const NAME = `mms2.${PARTNER}`;

/** Runs the real CLI to its end: exit code and everything it wrote (stdout and stderr). */
async function mcx(args: string[]): Promise<{ code: number | null; out: string }> {
  const p = startMcx(args);
  return { code: await p.exited, out: p.output() };
}

describe('mcx certs issue: another instance of a role under the existing CA', () => {
  let root: string;
  let dir: string;
  const nodes = new Nodes();

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mcx-certs-issue-'));
    dir = join(root, 'pki');
    await initPki({ dir, systems: [{ name: 'primary', realm: PRIMARY }, { name: 'partner', realm: PARTNER }] });
  });
  after(async () => {
    await nodes.closeAll();
    await rm(root, { recursive: true, force: true });
  });

  test('the new leaf verifies under the CA, carries mcx://<realm>/mms and OU=mms, and is in the manifest and certs show', async () => {
    const caBefore = await readFile(caPaths(dir, 'partner').cert, 'utf8');
    const r = await mcx(['certs', 'issue', '--dir', dir, '--system', 'partner', '--role', 'mms', '--name', NAME]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`issued partner/leaves/${NAME.replace(/\./g, '\\.')}\\.pem .* mcx://${PARTNER.replace(/\./g, '\\.')}/mms`));
    const p = issuedLeafPaths(dir, 'partner', NAME);
    const verify = await run('openssl', ['verify', '-x509_strict', '-CAfile', caPaths(dir, 'partner').cert, p.cert]);
    assert.match(verify.stdout, /: OK/);
    await assert.rejects(run('openssl', ['verify', '-CAfile', caPaths(dir, 'primary').cert, p.cert]), 'not under the other CA');
    const x = new X509Certificate(await readFile(p.cert, 'utf8'));
    assert.equal(x.subjectAltName, `DNS:${NAME}, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, URI:mcx://${PARTNER}/mms`);
    assert.equal(x.subject, `CN=${NAME}\nOU=mms\nO=mcx-migrate partner MC system`);
    assert.ok(x.checkPrivateKey(createPrivateKey(await readFile(p.key, 'utf8'))));
    assert.equal((await stat(p.key)).mode & 0o777, 0o600);
    assert.equal(await readFile(caPaths(dir, 'partner').cert, 'utf8'), caBefore, 'the CA stays where and what it was');
    const leaf = (await readManifest(dir)).systems.find((s) => s.name === 'partner')?.leaves[0];
    assert.deepEqual([leaf?.hostname, leaf?.role, leaf?.realm, leaf?.uri, leaf?.cert], [NAME, 'mms', PARTNER, `mcx://${PARTNER}/mms`, `partner/leaves/${NAME}.pem`]);
    const show = await mcx(['certs', 'show', '--dir', dir]);
    assert.equal(show.code, 0, show.out);
    assert.match(show.out, new RegExp(`mms ${NAME.replace(/\./g, '\\.')} +partner/leaves/.*\\n.*\\n.*URI:mcx://${PARTNER.replace(/\./g, '\\.')}/mms\\n.*\\n +check +signature ok, key matches`));
  });

  test('a second MMS with it is admitted by the primary relay at CER, and its role reaches the handler', async () => {
    const relayTls = await loadTlsMaterial(dir, 'primary', 'relay', ['partner']);
    const relay = nodes.make({ originHost: `relay.${PRIMARY}`, originRealm: PRIMARY, applications: [CX_APPLICATION] });
    const seen: HandlerContext['peer'][] = [];
    relay.handle(ApplicationId.CX, CxCommand.MAR, (req, ctx) => {
      seen.push(ctx.peer);
      return buildMaa(req, { originHost: `relay.${PRIMARY}`, originRealm: PRIMARY, result: { resultCode: ResultCode.SUCCESS } });
    });
    const { port } = await relay.listen({ host: '127.0.0.1', port: 0, tls: relayTls });
    const p = issuedLeafPaths(dir, 'partner', NAME);
    const mms2 = nodes.make({ originHost: NAME, originRealm: PARTNER, applications: [CX_APPLICATION] });
    mms2.addPeer({ host: '127.0.0.1', port, originHost: `relay.${PRIMARY}`, tls: {
      cert: await readFile(p.cert, 'utf8'), key: await readFile(p.key, 'utf8'), ca: (await loadTlsMaterial(dir, 'partner', 'mms', ['primary'])).ca,
    } });
    await mms2.waitForPeer({ originHost: `relay.${PRIMARY}` }, 5000);
    const maa = readMaa(await mms2.request(buildMar({
      sessionId: `${NAME};1;1`, originHost: NAME, originRealm: PARTNER, destinationRealm: PRIMARY, userName: `alice@${PRIMARY}`,
      publicIdentity: `sip:alice@${PRIMARY}`, serverName: `sip:registrar.${PARTNER}`, numberAuthItems: 1, scheme: 'Digest-AKAv1-MD5',
    })));
    assert.equal(maa.result.resultCode, ResultCode.SUCCESS);
    assert.deepEqual(seen.map((s) => [s.originHost, s.originRealm, s.role, s.certified]), [[NAME, PARTNER, 'mms', true]]);
  });

  test('bad arguments exit 2 naming the field; nothing is written', async () => {
    const base = ['certs', 'issue', '--dir', dir];
    const cases: Array<[string[], RegExp]> = [
      [['--system', 'nosuch', '--role', 'mms', '--name', `x.${PARTNER}`], /^mcx: --system: no system "nosuch" in .* \(it has primary, partner\)/],
      [['--system', 'partner', '--role', 'sbc', '--name', `x.${PARTNER}`], /^mcx: --role: "sbc" is not one of registrar, hss, mms, relay, idms/],
      [['--system', 'partner', '--role', 'mms', '--name', `mms3.${PRIMARY}`], /^mcx: --name: mms3\.ims\.primary\.example is not in realm ims\.partner\.example/],
      [['--system', 'partner', '--role', 'mms', '--name', 'not a host'], /^mcx: --name: "not a host" must be a fully qualified host name/],
      [['--system', 'partner', '--role', 'mms'], /^mcx: --name is required/],
      [['--system', 'partner', '--name', `x.${PARTNER}`], /^mcx: --role is required/],
    ];
    for (const [args, message] of cases) {
      const r = await mcx([...base, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}`);
      assert.match(r.out, new RegExp(message.source, 'm'));
    }
    const names = (await readManifest(dir)).systems.flatMap((s) => s.leaves.map((l) => l.hostname));
    assert.deepEqual(names, [NAME], 'only the leaf of the first test');
    assert.equal(existsSync(issuedLeafPaths(dir, 'partner', `x.${PARTNER}`).cert), false);
  });

  test('an existing leaf is replaced only with --force (exit 2 without, naming --name)', async () => {
    const p = issuedLeafPaths(dir, 'partner', NAME);
    const before = await readFile(p.cert, 'utf8');
    const again = await mcx(['certs', 'issue', '--dir', dir, '--system', 'partner', '--role', 'mms', '--name', NAME]);
    assert.equal(again.code, 2, again.out);
    assert.match(again.out, /--name: .* already exists; pass --force to replace it/);
    assert.equal(await readFile(p.cert, 'utf8'), before);
    const forced = await mcx(['certs', 'issue', '--dir', dir, '--system', 'partner', '--role', 'mms', '--name', NAME, '--force']);
    assert.equal(forced.code, 0, forced.out);
    assert.notEqual(await readFile(p.cert, 'utf8'), before);
    const leaves = (await readManifest(dir)).systems.find((s) => s.name === 'partner')?.leaves ?? [];
    assert.deepEqual(leaves.map((l) => l.hostname), [NAME], 'replaced in the manifest, not listed twice');
    assert.equal(leaves[0]?.sha256, new X509Certificate(await readFile(p.cert, 'utf8')).fingerprint256);
  });

  test('a PKI of manifest version 1: certs show and certs issue say to run mcx certs init --force', async () => {
    const old = join(root, 'old');
    await initPki({ dir: old, systems: [{ name: 'primary', realm: PRIMARY }] });
    await writeFile(manifestPath(old), (await readFile(manifestPath(old), 'utf8')).replace('"version": 2', '"version": 1'));
    for (const args of [['certs', 'show', '--dir', old], ['certs', 'issue', '--dir', old, '--system', 'primary', '--role', 'mms', '--name', `mms2.${PRIMARY}`]]) {
      const r = await mcx(args);
      assert.notEqual(r.code, 0);
      assert.match(r.out, /manifest\.json is version 1: its certificates carry no realm and role \(mcx:\/\/ URI\); regenerate it with mcx certs init --force/);
    }
  });
});
