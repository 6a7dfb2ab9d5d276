/**
 * RFC 3680 §5 at the UE (ue-client/reg-event.ts readRegState): the state of the UE's own contact in a reginfo
 * document — compared by user, host and port whatever the parameters; an active listing wins over a terminated one of
 * the same address (an older binding over another transport); a registration that ended without listing us says so.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readRegState } from '../../ue-client/reg-event.ts';

const OURS = 'sip:alice@127.0.0.1:5070;transport=udp';

function doc(contacts: string[], state = 'active', version = 3): string {
  return `<?xml version="1.0"?>\n<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="${version}" state="full">\n` +
    `  <registration aor="sip:alice@partner.example" id="a1" state="${state}">\n${contacts.join('')}  </registration>\n</reginfo>\n`;
}
const contact = (id: string, state: string, event: string, uri: string): string =>
  `    <contact id="${id}" state="${state}" event="${event}">\n      <uri>${uri}</uri>\n    </contact>\n`;

describe('RFC 3680 §5: the UE reads its own contact in a reginfo NOTIFY', () => {
  test('its contact, found by user, host and port; the version and the Subscription-State kept', () => {
    const r = readRegState(doc([contact('c1', 'active', 'refreshed', 'sip:alice@127.0.0.1:5070;transport=UDP;ob')]), OURS, 'active;expires=600');
    assert.deepEqual(r, { registration: 'active', contact: { state: 'active', event: 'refreshed' }, subscriptionState: 'active;expires=600', version: 3 });
  });

  test('an active listing of our address wins over a terminated one, in either order', () => {
    const old = contact('c0', 'terminated', 'expired', 'sip:alice@127.0.0.1:5070;transport=tcp');
    const live = contact('c1', 'active', 'registered', OURS);
    assert.deepEqual(readRegState(doc([live, old]), OURS, '').contact, { state: 'active', event: 'registered' });
    assert.deepEqual(readRegState(doc([old, live]), OURS, '').contact, { state: 'active', event: 'registered' });
  });

  test('another contact of the AOR is not ours; a terminated registration that lists only ours says rejected', () => {
    assert.equal(readRegState(doc([contact('c2', 'active', 'registered', 'sip:alice@127.0.0.1:5071')]), OURS, '').contact, undefined);
    const ended = readRegState(doc([contact('c1', 'terminated', 'rejected', OURS)], 'terminated'), OURS, 'terminated;reason=rejected');
    assert.equal(ended.registration, 'terminated');
    assert.deepEqual(ended.contact, { state: 'terminated', event: 'rejected' });
  });
});
