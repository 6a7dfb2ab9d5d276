/**
 * The software ISIM (TS 33.102 §6.3.3 with Annex C.2, TS 31.103 AUTHENTICATE outcomes) against an HE simulated with
 * lib/aka, its crash-safe state file, and the lock that keeps the file to one process (two would lose each other's
 * SQN updates, after which a replayed challenge verifies).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, mkdir, stat, open as openFile, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AkaError, DELTA, Milenage, decodeAuts, generateVector, makeSqn, nextSqn, resyncDecision, type AuthVector,
} from '../../lib/aka/index.ts';
import { UeError } from '../../ue-client/errors.ts';
import { Isim, type IsimAuthResult, type IsimCredentials } from '../../ue-client/isim.ts';
import { hex, set1 } from '../aka/vectors.ts';
import { NODE, start, type Proc } from '../helpers/process.ts';

const v = set1();
const he = Milenage.fromOp(hex(v.K), hex(v.OP));
const AMF = hex('0000');
const creds: IsimCredentials = {
  k: hex(v.K), op: hex(v.OP), impi: 'alice@ims.example.net', impus: ['sip:alice@ims.example.net', 'tel:+15550100'],
  domain: 'ims.example.net',
};

const tempDirs: string[] = [];
/** Every ISIM a test opened, closed at the end (their locks released) whatever the test did. */
const opened: Isim[] = [];
after(async () => {
  await Promise.all(opened.map((i) => i.close()));
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Isim.open, remembered for the final close. */
async function openIsim(file: string, c?: IsimCredentials): Promise<Isim> {
  const isim = await Isim.open(file, c);
  opened.push(isim);
  return isim;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'isim-test-'));
  tempDirs.push(dir);
  return dir;
}

async function tempFile(): Promise<string> {
  return join(await tempDir(), 'isim.json');
}

function isCode(code: string) {
  return (e: unknown): boolean => e instanceof AkaError && e.code === code;
}

function ok(r: IsimAuthResult, av: AuthVector): void {
  assert.ok(!('syncFailure' in r), 'expected success');
  assert.deepEqual(r, { res: av.xres, ck: av.ck, ik: av.ik });
}

function syncFailure(r: IsimAuthResult): Buffer {
  assert.ok('syncFailure' in r, 'expected a sync failure');
  assert.equal(r.syncFailure.length, 14);
  return r.syncFailure;
}

const vector = (sqn: bigint, amf = AMF): AuthVector => generateVector({ milenage: he, sqn, amf });

test('isim: a new ISIM accepts a fresh SQN and returns RES/CK/IK (33.102 §6.3.3)', async () => {
  const isim = await openIsim(await tempFile(), creds);
  const av = vector(nextSqn(0n));
  ok(await isim.authenticate(av.rand, av.autn), av);
  assert.equal(isim.impi, creds.impi);
  assert.deepEqual(isim.impus, creds.impus);
  assert.equal(isim.domain, creds.domain);
});

test('isim: AMF is taken from AUTN', async () => {
  const isim = await openIsim(await tempFile(), creds);
  const av = vector(makeSqn(3n, 3), hex('8000'));
  ok(await isim.authenticate(av.rand, av.autn), av);
});

test('isim: OPc provisioning behaves like OP', async () => {
  const isim = await openIsim(await tempFile(), { ...creds, op: undefined, opc: hex(v.OPc) });
  const av = vector(makeSqn(1n, 0));
  ok(await isim.authenticate(av.rand, av.autn), av);
  assert.equal(isim.toJSON().opVariant, 'opc');
});

test('isim: a replayed SQN gives AUTS that the HE decodes to SQN_MS with a valid MAC-S; resync then succeeds', async () => {
  const isim = await openIsim(await tempFile(), creds);
  const sqn = makeSqn(40n, 7);
  const av = vector(sqn);
  ok(await isim.authenticate(av.rand, av.autn), av);
  const r = await isim.authenticate(av.rand, av.autn);
  assert.equal('reason' in r && r.reason, 'replay');
  assert.deepEqual(decodeAuts(he, av.rand, syncFailure(r)), { sqnMs: sqn, macValid: true });
  // The HE was behind (last issued SEQ 39): reset from SQN_MS and issue a vector the ISIM accepts.
  const d = resyncDecision(makeSqn(39n, 6), sqn);
  assert.equal(d.keep, false);
  const fresh = vector(nextSqn(d.newLastSqn));
  ok(await isim.authenticate(fresh.rand, fresh.autn), fresh);
});

test('isim: a flipped MAC bit is a MAC failure (no AUTS) and leaves the state untouched', async () => {
  const file = await tempFile();
  const isim = await openIsim(file, creds);
  const av = vector(makeSqn(5n, 5));
  const before = await readFile(file, 'utf8');
  for (const bit of [0, 50, 64, 127]) {
    const autn = Buffer.from(av.autn);
    autn[bit >> 3] = (autn[bit >> 3] as number) ^ (0x80 >> (bit & 7));
    await assert.rejects(isim.authenticate(av.rand, autn), isCode('ERR_AKA_MAC_FAILURE'), `bit ${bit}`);
  }
  assert.equal(await readFile(file, 'utf8'), before);
  ok(await isim.authenticate(av.rand, av.autn), av);
});

test('isim: wrong RAND/AUTN lengths are ERR_AKA_INPUT', async () => {
  const isim = await openIsim(await tempFile(), creds);
  await assert.rejects(isim.authenticate(Buffer.alloc(15), Buffer.alloc(16)), isCode('ERR_AKA_INPUT'));
  await assert.rejects(isim.authenticate(Buffer.alloc(16), Buffer.alloc(14)), isCode('ERR_AKA_INPUT'));
});

test('isim: 32 outstanding vectors are accepted in any order (Annex C.2.2, one per IND slot)', async () => {
  const isim = await openIsim(await tempFile(), creds);
  const avs: AuthVector[] = [];
  let sqn = makeSqn(1000n, 0);
  for (let i = 0; i < 32; i++) avs.push(vector((sqn = nextSqn(sqn))));
  const order = [5, 31, 0, 17, 2, 30, 1, 16, 3, 29, 4, 18, 6, 28, 7, 19, 8, 27, 9, 20, 10, 26, 11, 21, 12, 25, 13, 22, 14, 24, 15, 23];
  assert.equal(new Set(order).size, 32);
  for (const i of order) ok(await isim.authenticate(avs[i]!.rand, avs[i]!.autn), avs[i]!);
  for (const av of avs) syncFailure(await isim.authenticate(av.rand, av.autn));
});

test('isim: a SEQ jump of more than Δ = 2^28 is a sync failure (Annex C.2.1); within Δ it is accepted', async () => {
  const isim = await openIsim(await tempFile(), creds);
  const base = makeSqn(10n, 1);
  const av0 = vector(base);
  ok(await isim.authenticate(av0.rand, av0.autn), av0);
  const far = vector(makeSqn(10n + DELTA + 1n, 2));
  const r = await isim.authenticate(far.rand, far.autn);
  assert.equal('reason' in r && r.reason, 'delta');
  const { sqnMs, macValid } = decodeAuts(he, far.rand, syncFailure(r));
  assert.equal(macValid, true);
  assert.equal(sqnMs, base);
  assert.equal(resyncDecision(makeSqn(10n + DELTA + 1n, 2), sqnMs).wentDown, true);
  const edge = vector(makeSqn(10n + DELTA, 3));
  ok(await isim.authenticate(edge.rand, edge.autn), edge);
});

test('isim: digest §4.3 pitfall — SQNs with SEQ 0 are never fresh; AUTS then carries SQN_MS 0', async () => {
  const isim = await openIsim(await tempFile(), creds);
  const av = vector(0x1fn);
  const r = await isim.authenticate(av.rand, av.autn);
  assert.deepEqual(decodeAuts(he, av.rand, syncFailure(r)), { sqnMs: 0n, macValid: true });
});

test('isim: state survives a restart — a re-opened ISIM refuses SQNs accepted before', async () => {
  const file = await tempFile();
  const first = await openIsim(file, creds);
  const av = vector(makeSqn(77n, 9));
  ok(await first.authenticate(av.rand, av.autn), av);
  const view = first.toJSON();
  await first.close();
  // A second instance, as after a process restart, without credentials: everything comes from the file.
  const second = await openIsim(file);
  assert.deepEqual(second.toJSON(), view);
  const r = await second.authenticate(av.rand, av.autn);
  assert.equal(decodeAuts(he, av.rand, syncFailure(r)).sqnMs, makeSqn(77n, 9));
  await second.close();
  // Same credentials again are fine (idempotent provisioning).
  await openIsim(file, creds);
});

test('isim: the state file is replaced atomically (temp + fsync + rename) before success is returned', async () => {
  const file = await tempFile();
  const isim = await openIsim(file, creds);
  assert.equal((await stat(file)).mode & 0o777, 0o600, 'the file carries K');
  const inodeBefore = (await stat(file)).ino;
  const oldText = await readFile(file, 'utf8');
  const oldHandle = await openFile(file, 'r');
  try {
    const av = vector(makeSqn(12n, 12));
    ok(await isim.authenticate(av.rand, av.autn), av);
    // Already durable when authenticate resolved: the file names SEQ 12 in slot 12.
    const now = JSON.parse(await readFile(file, 'utf8')) as { sqn: { seqMs: string[] } };
    assert.equal(now.sqn.seqMs[12], '12');
    // Rename, not rewrite in place: a new inode, and the old one still holds the complete old content.
    assert.notEqual((await stat(file)).ino, inodeBefore);
    assert.equal(await oldHandle.readFile('utf8'), oldText);
  } finally {
    await oldHandle.close();
  }
  assert.deepEqual((await readdir(join(file, '..'))).sort(), ['isim.json', 'isim.json.lock'], 'no temp file left behind; the lock while open');
  await isim.close();
  assert.deepEqual(await readdir(join(file, '..')), ['isim.json'], 'close removes the lock');
});

test('isim: when the state cannot be written no RES is released, and the SQN stays used', async () => {
  const file = await tempFile();
  const dir = join(file, '..');
  const isim = await openIsim(file, creds);
  const av = vector(makeSqn(20n, 1));
  await rm(dir, { recursive: true });
  await assert.rejects(isim.authenticate(av.rand, av.autn), isCode('ERR_AKA_STATE'));
  await mkdir(dir);
  syncFailure(await isim.authenticate(av.rand, av.autn));
  const next = vector(makeSqn(21n, 2));
  ok(await isim.authenticate(next.rand, next.autn), next);
  assert.equal(JSON.parse(await readFile(file, 'utf8')).sqn.seqMs[1], '20');
});

test('isim: concurrent authenticate calls with one vector succeed once', async () => {
  const isim = await openIsim(await tempFile(), creds);
  const av = vector(makeSqn(3n, 0));
  const results = await Promise.all([1, 2, 3].map(() => isim.authenticate(av.rand, av.autn)));
  assert.equal(results.filter((r) => !('syncFailure' in r)).length, 1);
});

test('isim: reset() zeroes SEQ_MS and persists it', async () => {
  const file = await tempFile();
  const isim = await openIsim(file, creds);
  const av = vector(makeSqn(9n, 4));
  ok(await isim.authenticate(av.rand, av.autn), av);
  await isim.reset();
  assert.equal(isim.toJSON().sqnMs, '000000000000');
  await isim.close();
  const reopened = await openIsim(file);
  assert.ok(reopened.toJSON().seqMs.every((s) => s === '0'));
  ok(await reopened.authenticate(av.rand, av.autn), av);
});

test('isim: toJSON shows identities and SQN state, never K, OP or OPc', async () => {
  const isim = await openIsim(await tempFile(), creds);
  const av = vector(makeSqn(33n, 8));
  ok(await isim.authenticate(av.rand, av.autn), av);
  const view = isim.toJSON();
  assert.equal(view.sqnMs, makeSqn(33n, 8).toString(16).padStart(12, '0'));
  assert.equal(view.seqMs.length, 32);
  const text = JSON.stringify(view);
  for (const secret of [v.K, v.OP, v.OPc]) assert.ok(!text.includes(secret));
});

test('isim: open refuses a missing file without credentials, a corrupt file, and other credentials', async () => {
  const file = await tempFile();
  await assert.rejects(openIsim(file), isCode('ERR_AKA_STATE'));
  await assert.rejects(openIsim(file, { ...creds, opc: hex(v.OPc) }), isCode('ERR_AKA_INPUT'));
  await assert.rejects(openIsim(file, { ...creds, impus: [] }), isCode('ERR_AKA_INPUT'));
  const isim = await openIsim(file, creds);
  // Open already in this process, and once closed from the file.
  await assert.rejects(openIsim(file, { ...creds, k: Buffer.alloc(16, 1) }), isCode('ERR_AKA_STATE'));
  await isim.close();
  await assert.rejects(openIsim(file, { ...creds, k: Buffer.alloc(16, 1) }), isCode('ERR_AKA_STATE'));
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.slice(0, 40));
  await assert.rejects(openIsim(file), isCode('ERR_AKA_STATE'));
  const json = JSON.parse(text) as Record<string, unknown>;
  await writeFile(file, JSON.stringify({ ...json, opc: v.OPc }));
  await assert.rejects(openIsim(file), isCode('ERR_AKA_STATE'));
  await writeFile(file, JSON.stringify({ ...json, sqn: { indBits: 5, seqMs: ['1'] } }));
  await assert.rejects(openIsim(file), isCode('ERR_AKA_STATE'));
});

test('isim: creating an ISIM makes missing parent directories', async () => {
  const file = join(await tempDir(), 'a', 'b', 'isim.json');
  const isim = await openIsim(file, creds);
  assert.equal(isim.toJSON().file, file);
  assert.equal((await stat(join(file, '..'))).mode & 0o777, 0o700);
});

/** Runs hold-isim.ts on `file` as its own process and waits until it has the ISIM open. */
async function holder(file: string): Promise<Proc> {
  const p = start(NODE, ['--import', 'tsx', 'test/ue-client/hold-isim.ts', file], { stdio: ['pipe', 'pipe', 'pipe'] });
  await p.waitFor(/^open \d+$/m, 20_000);
  return p;
}

const locked = (pid: number | undefined) => (e: unknown): boolean =>
  e instanceof UeError && e.code === 'UE_ISIM_LOCKED' && e.exitStatus === 1 && e.message.includes(`in use by pid ${pid} on ${hostname()}`) &&
  /one process per ISIM at a time, since two would lose each other's SQN updates/.test(e.message);

test('isim: another process has the file open → UE_ISIM_LOCKED naming its pid; once it closed the file, it opens here', async () => {
  const file = await tempFile();
  await (await openIsim(file, creds)).close();
  const p = await holder(file);
  try {
    await assert.rejects(Isim.open(file), locked(p.child.pid));
    await assert.rejects(Isim.open(file, creds), locked(p.child.pid));
    p.child.stdin?.end();
    await p.waitFor(/^closed$/m);
    assert.equal(await p.exited, 0);
    await assert.rejects(stat(`${file}.lock`), /ENOENT/, 'the holder removed its lock');
    const isim = await openIsim(file);
    assert.equal(isim.impi, creds.impi);
  } finally {
    await p.stop('SIGKILL');
  }
});

test('isim: the lost update two processes would cause cannot happen — an SQN accepted is refused to a replay, even across processes', async () => {
  const file = await tempFile();
  const isim = await openIsim(file, creds);
  const av = vector(makeSqn(50n, 3));
  ok(await isim.authenticate(av.rand, av.autn), av);
  // A second process cannot open the file (it would start from its own copy of SEQ_MS); after close it sees the SQN.
  const p = start(NODE, ['--import', 'tsx', 'test/ue-client/hold-isim.ts', file], { stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    assert.notEqual(await p.exited, 0);
    assert.match(p.output(), /UE_ISIM_LOCKED|is in use by pid/);
  } finally {
    await p.stop('SIGKILL');
  }
  await isim.close();
  syncFailure(await (await openIsim(file)).authenticate(av.rand, av.autn));
});

test('isim: the lock of a killed process is taken over; so is a leftover with our own pid and an old unreadable one', async () => {
  const file = await tempFile();
  await (await openIsim(file, creds)).close();
  const p = await holder(file);
  p.child.kill('SIGKILL');
  await p.exited;
  assert.match(await readFile(`${file}.lock`, 'utf8'), new RegExp(`"pid":${p.child.pid}`), 'a stale lock is left behind');
  const isim = await openIsim(file);
  assert.match(await readFile(`${file}.lock`, 'utf8'), new RegExp(`"pid":${process.pid}`));
  await isim.close();
  await writeFile(`${file}.lock`, JSON.stringify({ pid: process.pid, host: hostname() }));
  await (await openIsim(file)).close();
  await writeFile(`${file}.lock`, '');
  await assert.rejects(Isim.open(file), (e: unknown) => e instanceof UeError && e.code === 'UE_ISIM_LOCKED' && /still creating the lock/.test(e.message),
    'a lock being written right now is respected');
  const old = new Date(Date.now() - 60_000);
  await utimes(`${file}.lock`, old, old);
  await (await openIsim(file)).close();
  await writeFile(`${file}.lock`, JSON.stringify({ pid: 1, host: 'elsewhere.example' }));
  await assert.rejects(Isim.open(file), (e: unknown) => e instanceof UeError && e.code === 'UE_ISIM_LOCKED' && /pid 1 on elsewhere\.example/.test(e.message),
    'another host\'s lock is never taken over');
  await rm(`${file}.lock`);
});

test('isim: two opens in one process share one state (an SQN accepted through one is refused through the other); the last close releases the lock', async () => {
  const file = await tempFile();
  const a = await openIsim(file, creds);
  const b = await openIsim(file);
  const av = vector(makeSqn(60n, 4));
  ok(await a.authenticate(av.rand, av.autn), av);
  syncFailure(await b.authenticate(av.rand, av.autn));
  await a.close();
  await a.close();
  await assert.rejects(a.authenticate(av.rand, av.autn), isCode('ERR_AKA_STATE'), 'a closed handle refuses');
  await stat(`${file}.lock`);
  const next = vector(makeSqn(61n, 5));
  ok(await b.authenticate(next.rand, next.autn), next);
  await b.close();
  await assert.rejects(stat(`${file}.lock`), /ENOENT/);
});
