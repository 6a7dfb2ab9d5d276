/**
 * Kamailio 5.6 as an S-CSCF talking Cx to our HSS or MMS, from the templates in deploy/peers/ (../shared/peers/).
 */
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { start, type Proc } from './process.ts';

const run = promisify(execFile);
const PEERS = fileURLToPath(new URL('./peers/', import.meta.url));

export interface Kamailio {
  dir: string;
  proc: Proc;
  sipPort: number;
  stop(): Promise<void>;
}

/**
 * Starts an S-CSCF for `realm` on SIP port `sipPort` (UDP+TCP), whose Cx peer is 127.0.0.1:`diameterPort`,
 * and waits until cdp reports the peer open (`I_Open`).
 */
export async function startKamailio(opts: { realm: string; sipPort: number; diameterPort: number; acceptorPort: number; readyMs?: number }): Promise<Kamailio> {
  const dir = mkdtempSync(join(tmpdir(), 'mcx-kam-'));
  const fill = (t: string) =>
    t
      .replaceAll('@DIR@', dir)
      .replaceAll('@SPORT@', String(opts.sipPort))
      .replaceAll('@TLSPORT@', String(opts.sipPort + 1))
      .replaceAll('@REALM@', opts.realm)
      .replaceAll('@DPORT@', String(opts.diameterPort))
      .replaceAll('@APORT@', String(opts.acceptorPort));
  writeFileSync(join(dir, 'kamailio.cfg'), fill(readFileSync(join(PEERS, 'kamailio-scscf.cfg.tmpl'), 'utf8')));
  writeFileSync(join(dir, 'kamailio-cdp.xml'), fill(readFileSync(join(PEERS, 'kamailio-cdp.xml.tmpl'), 'utf8')));
  const proc = start('kamailio', ['-m', '256', '-M', '8', '-DD', '-E', '-f', join(dir, 'kamailio.cfg'), '-P', join(dir, 'kam.pid')]);
  const deadline = Date.now() + (opts.readyMs ?? 20000);
  let peers = '';
  for (;;) {
    try {
      // Bounded: kamcmd waits on the control socket of a Kamailio that may be wedged, and the loop checks its deadline only between calls.
      peers = (await run('kamcmd', ['-s', `unix:${join(dir, 'kamailio_ctl')}`, 'cdp.list_peers'], { timeout: 2000 })).stdout;
      if (/I_Open|R_Open/.test(peers)) break;
    } catch {
      // control socket not up yet
    }
    if (Date.now() > deadline) {
      await proc.stop('SIGKILL');
      throw new Error(`kamailio cdp peer not open after ${opts.readyMs ?? 20000} ms: ${peers}\n${proc.output().slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    dir,
    proc,
    sipPort: opts.sipPort,
    async stop() {
      await proc.stop('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
