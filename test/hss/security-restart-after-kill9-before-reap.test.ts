/**
 * Hardening: an HSS killed with SIGKILL and restarted at once, before its parent reaps it, starts on the first try
 * and continues above every SQN it issued. The killed process stays a zombie meanwhile — `kill(pid, 0)` still
 * succeeds for it — so the state directory's lock must not count it as alive (lib/pid.ts reads /proc's state).
 *
 * The zombie is made the way a supervisor makes one: the HSS is the child of a shell that `exec`s into `sleep`,
 * which never waits for children, so the killed HSS stays in state Z until the sleep ends.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAutn, Milenage } from '../../lib/aka/index.ts';
import { buildMar, readMaa } from '../../lib/diameter/cx/index.ts';
import { CX_APPLICATION, DiameterNode } from '../../lib/diameter/node.ts';
import { NODE, start, startMcx, type Proc } from '../helpers/process.ts';
import { ALICE, K, OPC, REALM } from './helpers.ts';

const HSS_HOST = 'hss.primary.example';
const LISTENING = /hss: listening diameter=tcp:\/\/([\d.]+):(\d+)/;

/** The SQN of each vector of a MAA, opened with the subscriber's key. */
function sqnsOf(answer: Parameters<typeof readMaa>[0]): bigint[] {
  const usim = new Milenage(Buffer.from(K, 'hex'), Buffer.from(OPC, 'hex'));
  return readMaa(answer).items.map((item) => {
    const ra = item.authenticate as Buffer;
    const opened = openAutn(usim, ra.subarray(0, 16), ra.subarray(16));
    assert.ok(opened.macValid, 'the vector opens with the subscriber key');
    return opened.sqn;
  });
}

async function marSqns(port: number, n: number): Promise<bigint[]> {
  const client = new DiameterNode({ originHost: 'scscf.partner.example', originRealm: 'partner.example', applications: [CX_APPLICATION] });
  try {
    client.addPeer({ host: '127.0.0.1', port, originHost: HSS_HOST });
    await client.waitForPeer({ originHost: HSS_HOST }, 10_000);
    const out: bigint[] = [];
    for (let i = 0; i < n; i++) {
      out.push(...sqnsOf(await client.request(buildMar({
        sessionId: `scscf.partner.example;zombie;${i}`, originHost: 'scscf.partner.example', originRealm: 'partner.example',
        destinationRealm: REALM, userName: ALICE.impi, publicIdentity: ALICE.impus[0] as string,
        serverName: 'sip:scscf.partner.example', numberAuthItems: 2, scheme: 'Digest-AKAv1-MD5',
      }), { timeoutMs: 3000 })));
    }
    return out;
  } finally {
    await client.close();
  }
}

/** The state letter of /proc/<pid>/stat. */
async function procState(pid: number): Promise<string> {
  const text = await readFile(`/proc/${pid}/stat`, 'latin1');
  return text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3);
}

describe('hardening: HSS killed -9 and restarted before it is reaped', () => {
  let dir: string;
  let holder: Proc;
  let second: Proc | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-hss-zombie-'));
    await writeFile(join(dir, 'subs.csv'), `impi,impus,k,opc,allowed_partners\n${ALICE.impi},${ALICE.impus.join(' ')},${K},${OPC},partner.example\n`);
  });
  after(async () => {
    await second?.stop('SIGKILL');
    await holder?.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  test('the restart takes over the zombie\'s lock on the first try and issues SQNs above all issued before', async () => {
    const args = ['bin/mcx.mjs', 'hss', '--listen', '127.0.0.1:0', '--origin-host', HSS_HOST, '--realm', REALM,
      '--subscribers', join(dir, 'subs.csv'), '--state-dir', join(dir, 'state')];
    const quoted = [NODE, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    // The HSS's parent becomes `sleep`, which never reaps it.
    holder = start('/bin/sh', ['-c', `${quoted} & echo "hss pid $!"; exec sleep 120`]);
    const pid = Number((await holder.waitFor(/hss pid (\d+)/, 10_000))[1]);
    const first = await holder.waitFor(LISTENING, 30_000);
    const before = await marSqns(Number(first[2]), 3);
    assert.equal(before.length, 6);

    process.kill(pid, 'SIGKILL');
    let state = '';
    for (let i = 0; i < 100 && state !== 'Z'; i++) {
      state = await procState(pid);
      if (state !== 'Z') await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(state, 'Z', 'the killed HSS is a zombie, not yet reaped');

    second = startMcx(args.slice(1));
    const m = await second.waitFor(LISTENING, 30_000);
    assert.equal(await procState(pid), 'Z', 'the old HSS was still unreaped when the new one took its state directory');
    assert.match(second.output(), /taking over the lock of a process that is gone/);
    const after = await marSqns(Number(m[2]), 2);
    const highest = before.reduce((a, b) => (a > b ? a : b));
    for (const sqn of after) assert.ok(sqn > highest, `SQN ${sqn.toString(16)} is above every SQN issued before the kill (${highest.toString(16)})`);
  });
});
