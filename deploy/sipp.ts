/**
 * SIPp (Debian `sip-tester` 3.6.1) as an AKA UE, from deploy/peers/sipp-register-aka.xml.tmpl (../shared/peers/).
 */
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const TEMPLATE = fileURLToPath(new URL('./peers/sipp-register-aka.xml.tmpl', import.meta.url));

/** SIPp takes binary keys as unquoted `\xHH` escapes (its `0x…` form breaks on some bytes). */
export function sippBytes(hex: string): string {
  return Buffer.from(hex, 'hex').reduce((s, b) => s + '\\x' + b.toString(16).padStart(2, '0'), '');
}

export interface SippUser {
  domain: string;
  impi: string;
  impu: string;
  /** hex */
  k: string;
  /** hex, OP (SIPp 3.6.1 cannot take OPc) */
  op: string;
  /** hex, 4 digits */
  amf: string;
}

/** Writes the AKA REGISTER scenario for `u` and returns its path. */
export function writeAkaScenario(u: SippUser, dir = mkdtempSync(join(tmpdir(), 'mcx-sipp-'))): string {
  const text = readFileSync(TEMPLATE, 'utf8')
    .replaceAll('@DOMAIN@', u.domain)
    .replaceAll('@IMPI@', u.impi)
    .replaceAll('@IMPU@', u.impu)
    .replaceAll('@K@', sippBytes(u.k))
    .replaceAll('@OP@', sippBytes(u.op))
    .replaceAll('@AMF@', sippBytes(u.amf));
  const file = join(dir, `register-${u.impi.replace(/[^A-Za-z0-9]/g, '_')}.xml`);
  writeFileSync(file, text);
  return file;
}

export interface SippResult {
  code: number | null;
  output: string;
}

/**
 * Runs one scenario call against `target` (HOST:PORT) over `transport` (with `injection`: the scenario's `-inf` file)
 * and resolves with SIPp's exit code (0 = the final 200 arrived).
 */
export function runSipp(target: string, scenario: string, opts: { transport: 'udp' | 'tcp'; localPort: number; timeoutS?: number; injection?: string }): Promise<SippResult> {
  const args = [
    target, '-sf', scenario, ...(opts.injection ? ['-inf', opts.injection] : []), '-s', 'ue', '-i', '127.0.0.1', '-p', String(opts.localPort),
    '-t', opts.transport === 'udp' ? 'u1' : 't1', '-m', '1', '-r', '1000', '-nostdin',
    '-timeout', `${opts.timeoutS ?? 15}s`, '-timeout_error', '-default_behaviors', 'none', '-trace_err',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir() });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}
