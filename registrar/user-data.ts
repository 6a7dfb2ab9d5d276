/**
 * The public identities of an SAA's User-Data (IMSSubscription, TS 29.228 Annex D/E), for the P-Associated-URI of the
 * 200 (TS 24.229 §5.4.1.2.2: the registered and implicitly registered IMPUs, the HSS's first one being the default).
 * Barred identities (BarringIndication 1) are left out, as 24.229 asks. Only `<PublicIdentity>` elements are read;
 * anything unreadable yields no identities, and the caller falls back to the To URI.
 */

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes the predefined and numeric character references of XML text. */
function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_m, e: string) =>
    e.startsWith('#x') ? String.fromCodePoint(parseInt(e.slice(2), 16))
      : e.startsWith('#') ? String.fromCodePoint(parseInt(e.slice(1), 10))
        : (ENTITIES[e] as string));
}

/** The text of the first `<name>` child in `xml` (any namespace prefix), or undefined. */
function child(xml: string, name: string): string | undefined {
  const m = new RegExp(`<(?:[\\w.-]+:)?${name}(?:\\s[^>]*)?>([^<]*)</(?:[\\w.-]+:)?${name}\\s*>`).exec(xml);
  return m ? unescapeXml(m[1] as string).trim() : undefined;
}

/**
 * The unbarred public identities of User-Data, in document order, without duplicates.
 * @param userData the SAA's User-Data octets (UTF-8 XML).
 */
export function publicIdentities(userData: Buffer | undefined): string[] {
  if (!userData || userData.length === 0) return [];
  const xml = userData.toString('utf8');
  const out: string[] = [];
  for (const m of xml.matchAll(/<(?:[\w.-]+:)?PublicIdentity(?:\s[^>]*)?>([\s\S]*?)<\/(?:[\w.-]+:)?PublicIdentity\s*>/g)) {
    const block = m[1] as string;
    if (child(block, 'BarringIndication') === '1') continue;
    const id = child(block, 'Identity');
    if (id && !out.includes(id)) out.push(id);
  }
  return out;
}

/**
 * An identity as a header may carry it: the octets a SIP URI never holds unescaped — controls, space, double quote,
 * angle brackets, backslash, caret, grave accent, braces, vertical bar and non-ASCII — percent-encoded (RFC 3261
 * §19.1.2, §25.1 `escaped`). The HSS keeps IMPUs in the unescaped form the registrar compares AORs in, so RFC 4475
 * §3.1.1.4's `sip:null-%00-null@…` comes back from the SAA with a real NUL, which must not reach the wire as one.
 * `%` is left alone: an IMPU provisioned with escapes keeps them.
 * @param identity a public identity from User-Data.
 */
export function escapeForHeader(identity: string): string {
  // eslint-disable-next-line no-control-regex
  return identity.replace(/[\x00-\x20\x7f"<>\\^`{|}]|[^\x00-\x7f]+/gu, (c) =>
    Array.from(Buffer.from(c, 'utf8'), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}
