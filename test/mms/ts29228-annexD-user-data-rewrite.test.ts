/**
 * TS 29.228 Annex D (IMSSubscription XML, schema Annex E) in the SAA User-Data, rewritten to partner identities:
 * `<PrivateID>` and every `<PublicIdentity><Identity>`, unmapped public identities removed, everything else
 * byte-for-byte, inserted values XML-escaped; documents that cannot be followed are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rewriteUserData } from '../../mms/user-data.ts';
import type { UserDataMapping } from '../../mms/user-data.ts';
import { MmsError } from '../../mms/errors.ts';

const MAP: UserDataMapping = {
  privateId: 'alice.mig@partner.example',
  impu: (p) => ({ 'sip:alice@primary.example': 'sip:alice.mig@partner.example', 'tel:+4989222': 'tel:+4930111', 'sip:a&b@primary.example': "sip:o'neil&co@partner.example" })[p],
};

/** A realistic document: comments, iFC, extensions, namespace attributes, CRLF indentation. */
const DOC = [
  '<?xml version="1.0" encoding="UTF-8"?>',
  '<!-- provisioned by hss -->',
  '<IMSSubscription xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="CxDataType.xsd">',
  '  <PrivateID>alice@primary.example</PrivateID>',
  '  <ServiceProfile>',
  '    <PublicIdentity>',
  '      <BarringIndication>0</BarringIndication>',
  '      <Identity>sip:alice@primary.example</Identity>',
  '      <Extension><IdentityType>0</IdentityType><DisplayName>Alice &amp; "Co" &gt; 1</DisplayName></Extension>',
  '    </PublicIdentity>',
  '    <PublicIdentity><Identity>sip:alice-secret@primary.example</Identity></PublicIdentity>',
  '    <PublicIdentity attr="a>b"><Identity> tel:+4989222 </Identity></PublicIdentity>',
  '    <InitialFilterCriteria><Priority>0</Priority><TriggerPoint><ConditionTypeCNF>1</ConditionTypeCNF>',
  '      <SPT><ConditionNegated>0</ConditionNegated><Group>0</Group><Method>INVITE</Method></SPT></TriggerPoint>',
  '      <ApplicationServer><ServerName>sip:as.primary.example</ServerName><DefaultHandling>0</DefaultHandling></ApplicationServer>',
  '    </InitialFilterCriteria>',
  '  </ServiceProfile>',
  '  <ServiceProfile>',
  '    <PublicIdentity><Identity>sip:bob-shared@primary.example</Identity></PublicIdentity>',
  '  </ServiceProfile>',
  '</IMSSubscription>',
  '',
].join('\r\n');

const EXPECTED = [
  '<?xml version="1.0" encoding="UTF-8"?>',
  '<!-- provisioned by hss -->',
  '<IMSSubscription xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="CxDataType.xsd">',
  '  <PrivateID>alice.mig@partner.example</PrivateID>',
  '  <ServiceProfile>',
  '    <PublicIdentity>',
  '      <BarringIndication>0</BarringIndication>',
  '      <Identity>sip:alice.mig@partner.example</Identity>',
  '      <Extension><IdentityType>0</IdentityType><DisplayName>Alice &amp; "Co" &gt; 1</DisplayName></Extension>',
  '    </PublicIdentity>',
  '    <PublicIdentity attr="a>b"><Identity>tel:+4930111</Identity></PublicIdentity>',
  '    <InitialFilterCriteria><Priority>0</Priority><TriggerPoint><ConditionTypeCNF>1</ConditionTypeCNF>',
  '      <SPT><ConditionNegated>0</ConditionNegated><Group>0</Group><Method>INVITE</Method></SPT></TriggerPoint>',
  '      <ApplicationServer><ServerName>sip:as.primary.example</ServerName><DefaultHandling>0</DefaultHandling></ApplicationServer>',
  '    </InitialFilterCriteria>',
  '  </ServiceProfile>',
  '</IMSSubscription>',
  '',
].join('\r\n');

test('PrivateID and every PublicIdentity mapped, unmapped ones removed, the rest byte-for-byte', () => {
  const r = rewriteUserData(Buffer.from(DOC, 'utf8'), MAP);
  assert.equal(r.data.toString('utf8'), EXPECTED);
  assert.equal(r.mapped, 2);
  assert.deepEqual(r.removed, ['sip:alice-secret@primary.example', 'sip:bob-shared@primary.example']);
  assert.ok(!r.data.includes('primary.example</Identity>'), 'no primary identity left');
});

test('the compact document our HSS sends (hss/user-data.ts shape)', () => {
  const doc = '<?xml version="1.0" encoding="UTF-8"?><IMSSubscription xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="CxDataType.xsd">' +
    '<PrivateID>alice@primary.example</PrivateID><ServiceProfile>' +
    '<PublicIdentity><BarringIndication>0</BarringIndication><Identity>sip:alice@primary.example</Identity></PublicIdentity>' +
    '<PublicIdentity><BarringIndication>0</BarringIndication><Identity>sip:x@primary.example</Identity></PublicIdentity>' +
    '</ServiceProfile></IMSSubscription>';
  const out = rewriteUserData(Buffer.from(doc), MAP).data.toString();
  assert.equal(out, doc.replace('<PrivateID>alice@primary.example', '<PrivateID>alice.mig@partner.example')
    .replace('<Identity>sip:alice@primary.example', '<Identity>sip:alice.mig@partner.example')
    .replace('<PublicIdentity><BarringIndication>0</BarringIndication><Identity>sip:x@primary.example</Identity></PublicIdentity>', ''));
});

test('escaping: entities and CDATA are decoded for the lookup, inserted values are escaped', () => {
  const doc = '<IMSSubscription><PrivateID><![CDATA[alice@primary.example]]></PrivateID><ServiceProfile>' +
    '<PublicIdentity><Identity>sip:a&amp;b@primary.example</Identity></PublicIdentity>' +
    '<PublicIdentity><Identity><![CDATA[tel:+4989222]]><!-- home --></Identity></PublicIdentity>' +
    '<PublicIdentity><Identity>&#115;ip:alice@primary.example</Identity></PublicIdentity>' +
    '</ServiceProfile></IMSSubscription>';
  const out = rewriteUserData(Buffer.from(doc), { ...MAP, privateId: 'a<b>&"c\'@partner.example' }).data.toString();
  assert.equal(out, '<IMSSubscription><PrivateID>a&lt;b&gt;&amp;&quot;c&apos;@partner.example</PrivateID><ServiceProfile>' +
    '<PublicIdentity><Identity>sip:o&apos;neil&amp;co@partner.example</Identity></PublicIdentity>' +
    '<PublicIdentity><Identity>tel:+4930111</Identity></PublicIdentity>' +
    '<PublicIdentity><Identity>sip:alice.mig@partner.example</Identity></PublicIdentity>' +
    '</ServiceProfile></IMSSubscription>');
});

test('prefixed names, a self-closing PrivateID, a BOM and non-ASCII text survive', () => {
  const doc = '\ufeff<cx:IMSSubscription xmlns:cx="urn:x"><cx:PrivateID/><cx:ServiceProfile><cx:PublicIdentity>' +
    '<cx:Identity>tel:+4989222</cx:Identity><cx:Extension><cx:DisplayName>Ålice ✓</cx:DisplayName></cx:Extension>' +
    '</cx:PublicIdentity></cx:ServiceProfile></cx:IMSSubscription>';
  const out = rewriteUserData(Buffer.from(doc, 'utf8'), MAP).data;
  assert.deepEqual(out.subarray(0, 3), Buffer.from([0xef, 0xbb, 0xbf]));
  assert.equal(out.toString('utf8'), doc.replace('<cx:PrivateID/>', '<cx:PrivateID>alice.mig@partner.example</cx:PrivateID>')
    .replace('tel:+4989222', 'tel:+4930111'));
});

test('a ServiceProfile left without public identities goes as a whole', () => {
  const doc = '<IMSSubscription><PrivateID>x</PrivateID>\n  <ServiceProfile><PublicIdentity><Identity>sip:z@primary.example</Identity></PublicIdentity></ServiceProfile>\n</IMSSubscription>';
  const r = rewriteUserData(Buffer.from(doc), MAP);
  assert.equal(r.data.toString(), '<IMSSubscription><PrivateID>alice.mig@partner.example</PrivateID>\n</IMSSubscription>');
  assert.deepEqual(r.removed, ['sip:z@primary.example']);
});

test('documents that cannot be followed are refused with ERR_MMS_BAD_ANSWER', () => {
  const bad: [string, Buffer][] = [
    ['DOCTYPE', Buffer.from('<!DOCTYPE x [<!ENTITY e "sip:alice@primary.example">]><IMSSubscription><PrivateID>&e;</PrivateID></IMSSubscription>')],
    ['undefined entity', Buffer.from('<IMSSubscription><PrivateID>&e;</PrivateID></IMSSubscription>')],
    ['wrong root', Buffer.from('<Other><PrivateID>x</PrivateID></Other>')],
    ['unclosed', Buffer.from('<IMSSubscription><PrivateID>x</PrivateID>')],
    ['mismatched', Buffer.from('<IMSSubscription><PrivateID>x</ServiceProfile></IMSSubscription>')],
    ['two roots', Buffer.from('<IMSSubscription/><IMSSubscription/>')],
    ['text outside', Buffer.from('junk<IMSSubscription/>')],
    ['two Identity', Buffer.from('<IMSSubscription><ServiceProfile><PublicIdentity><Identity>a</Identity><Identity>b</Identity></PublicIdentity></ServiceProfile></IMSSubscription>')],
    ['Identity with children', Buffer.from('<IMSSubscription><ServiceProfile><PublicIdentity><Identity><b>sip:x</b></Identity></PublicIdentity></ServiceProfile></IMSSubscription>')],
    ['not UTF-8', Buffer.from([0x3c, 0x49, 0xff, 0x3e])],
    ['other encoding', Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><IMSSubscription/>')],
    ['unterminated comment', Buffer.from('<IMSSubscription><!-- x </IMSSubscription>')],
    ['empty', Buffer.alloc(0)],
  ];
  for (const [what, data] of bad) {
    assert.throws(() => rewriteUserData(data, MAP), (e: unknown) => e instanceof MmsError && e.code === 'ERR_MMS_BAD_ANSWER', what);
  }
});
