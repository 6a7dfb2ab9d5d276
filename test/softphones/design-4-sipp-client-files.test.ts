/**
 * DESIGN §4 (SIPp 3.6.1 as an AKA UE) with the files the testbed writes (issue #13): alice's scenario (K, OP and AMF
 * as `\xHH` escapes) and injection file (IMPI, IMPU, domain), run as written over UDP and TCP: 401 → Digest-AKA
 * answer → 200 (SIPp exits 0 only then), the REGISTERs with alice's partner identities on the wire, and the binding
 * at the registrar from SIPp's port. The testbed's keys have no 0x00, 0x0a or 0x0d octet and no edge space, so the same
 * K sits raw in the Twinkle profile.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rawKeyProblem } from '../../ue-client/softphones/model.ts';
import { freePort } from '../helpers/ports.ts';
import { runSipp } from '../helpers/sipp.ts';
import { sipFields, withoutRetransmissions } from '../helpers/tshark.ts';
import { requireCommand, softphoneTestbed } from './fixture.ts';

describe('DESIGN §4: SIPp 3.6.1 registers alice with the testbed\'s generated scenario and injection file', () => {
  const f = softphoneTestbed('sipp');

  for (const transport of ['udp', 'tcp'] as const) {
    test(`sipp -sf clients/sipp/alice.xml -inf clients/sipp/alice.csv over ${transport.toUpperCase()}: 401 → 200, bound from SIPp's port`, { timeout: 30_000 }, async () => {
      requireCommand('sipp');
      const dir = join(f.tb.layout.clientsDir, 'sipp');
      const aor = f.tb.alice.partner.impu;
      const capture = await f.capture();
      const localPort = await freePort();
      const r = await runSipp(`127.0.0.1:${f.port}`, join(dir, 'alice.xml'), { transport, localPort, injection: join(dir, 'alice.csv') });
      assert.equal(r.code, 0, r.output.slice(-3000));
      const contacts = await f.bindings(aor);
      assert.ok(contacts.some((c) => c.source === `${transport.toUpperCase()} 127.0.0.1:${localPort}`), JSON.stringify(contacts));
      await capture.stop();
      const wire = withoutRetransmissions(await sipFields(capture.file, f.port, ['sip.Method', 'sip.Status-Code', 'sip.to.user', 'sip.Via.transport', 'sip.auth.username', 'sip.CSeq.seq', 'sip.Call-ID']))
        .filter((row) => row[2] === 'alice.mig' && row[3] === transport.toUpperCase());
      assert.deepEqual(wire.map((row) => row[0] || row[1]), ['REGISTER', '401', 'REGISTER', '200'], wire.join('\n'));
      assert.equal(wire[2]?.[4], `"${f.tb.alice.partner.impi}"`, 'the IMPI from the injection file');
    });
  }

  test('the scenario carries K and OP as escapes, the injection file the identities; neither key has an octet a line-based file cannot carry', async () => {
    const xml = await readFile(join(f.tb.layout.clientsDir, 'sipp', 'alice.xml'), 'utf8');
    const { alice } = f.tb;
    const esc = (hex: string): string => hex.replace(/../g, (b) => `\\x${b}`);
    assert.ok(xml.includes(`aka_K=${esc(alice.k)} aka_OP=${esc(alice.op)} aka_AMF=${esc(alice.amf)}]`), xml);
    assert.equal(await readFile(join(f.tb.layout.clientsDir, 'sipp', 'alice.csv'), 'utf8'), `SEQUENTIAL\n${alice.partner.impi};${alice.partner.impu};partner.mcx.test;\n`);
    for (const [name, hex] of [['K', alice.k], ['OP', alice.op]] as const) assert.equal(rawKeyProblem(name, Buffer.from(hex, 'hex')), undefined);
  });
});
