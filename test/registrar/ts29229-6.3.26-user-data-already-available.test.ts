/**
 * TS 29.229 §6.3.26 User-Data-Already-Available / TS 29.228 §6.1.2 at the registrar: the first SAR of a registration
 * (REGISTRATION) asks for the profile (USER_DATA_NOT_AVAILABLE) and the registrar keeps its public identities with
 * the bindings; a refresh (RE_REGISTRATION) says USER_DATA_ALREADY_AVAILABLE, the HSS answers without User-Data, and
 * the 200 still lists the profile's identities in P-Associated-URI. After a de-registration the profile is gone: the
 * next registration asks for it again.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import {
  CxCommand, ServerAssignmentType as SAT, UserDataAlreadyAvailable as UDAA, readSaa, readSar,
} from '../../lib/diameter/cx/index.ts';
import { headerLines, akaUser, openIsim, registerAka, registrarFixture } from './helpers.ts';

const alice = akaUser('alice');

describe('TS 29.229 §6.3.26: User-Data-Already-Available from the registrar', () => {
  const f = registrarFixture({ aka: [alice], ue: true });
  test('REGISTRATION asks for the profile, RE_REGISTRATION says it has it and gets none; P-Associated-URI stays; after de-registration it is asked again', async () => {
    const sars: Array<{ type: number; udaa: number; userData: boolean }> = [];
    const node = f.reg.node;
    const request = node.request.bind(node);
    node.request = async (msg: DiameterMessage, o) => {
      const answer = await request(msg, o);
      if (msg.commandCode === CxCommand.SAR) {
        const sar = readSar(msg);
        sars.push({ type: sar.serverAssignmentType, udaa: sar.userDataAlreadyAvailable, userData: readSaa(answer).userData !== undefined });
      }
      return answer;
    };
    const isim = await openIsim(f.dir, alice);
    const associated = [alice.impus.map((u) => `<${u}>`).join(', ')];
    for (let i = 0; i < 3; i++) {
      const r = await registerAka(f.ue, isim, alice);
      assert.equal(r.final.msg.status, 200, r.final.text);
      assert.deepEqual(headerLines(r.final.text, 'P-Associated-URI'), associated, 'the profile\'s identities, kept from the first SAA');
    }
    const dereg = await registerAka(f.ue, isim, alice, { expires: 0 });
    assert.equal(dereg.final.msg.status, 200, dereg.final.text);
    const again = await registerAka(f.ue, isim, alice);
    assert.deepEqual(headerLines(again.final.text, 'P-Associated-URI'), associated);
    assert.deepEqual(sars, [
      { type: SAT.REGISTRATION, udaa: UDAA.USER_DATA_NOT_AVAILABLE, userData: true },
      { type: SAT.RE_REGISTRATION, udaa: UDAA.USER_DATA_ALREADY_AVAILABLE, userData: false },
      { type: SAT.RE_REGISTRATION, udaa: UDAA.USER_DATA_ALREADY_AVAILABLE, userData: false },
      { type: SAT.USER_DEREGISTRATION, udaa: UDAA.USER_DATA_NOT_AVAILABLE, userData: false },
      { type: SAT.REGISTRATION, udaa: UDAA.USER_DATA_NOT_AVAILABLE, userData: true },
    ]);
  });
});
