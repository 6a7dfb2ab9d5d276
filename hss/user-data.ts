/**
 * The User-Data of an SAA: a minimal IMS subscription document (TS 29.228 Annex D format, Annex E schema
 * `CxDataType.xsd`): the private identity and one service profile holding every public identity (one implicit
 * registration set), with no initial filter criteria. Kamailio's `ims_registrar_scscf` parses it with libxml2 and
 * refuses to complete a registration without it (DESIGN §4).
 */

/** Escapes the five XML special characters (identities are URIs, but `&` and `'` are legal in them). */
export function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/**
 * Builds the IMSSubscription XML.
 * @param impi the private identity (`<PrivateID>`).
 * @param impus the public identities, each a `<PublicIdentity><Identity>` of the one `<ServiceProfile>`.
 */
export function imsSubscriptionXml(impi: string, impus: readonly string[]): string {
  const identities = impus
    .map((u) => `<PublicIdentity><BarringIndication>0</BarringIndication><Identity>${xmlEscape(u)}</Identity></PublicIdentity>`)
    .join('');
  return '<?xml version="1.0" encoding="UTF-8"?>' +
    '<IMSSubscription xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="CxDataType.xsd">' +
    `<PrivateID>${xmlEscape(impi)}</PrivateID>` +
    `<ServiceProfile>${identities}</ServiceProfile>` +
    '</IMSSubscription>';
}
