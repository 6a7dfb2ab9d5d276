/**
 * Header names: case-insensitive (RFC 3261 §7.3.1), with single-letter compact forms (§7.3.3 and the RFCs that
 * registered the others in the IANA SIP parameters registry). Internally every header is keyed by its lower-case
 * long name; the wire keeps whatever spelling the sender used.
 */

/** Compact form → lower-case long name. */
const COMPACT: Readonly<Record<string, string>> = {
  a: 'accept-contact', // RFC 3841
  b: 'referred-by', // RFC 3892
  c: 'content-type',
  d: 'request-disposition', // RFC 3841
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact', // RFC 3841
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  n: 'identity-info', // RFC 4474
  o: 'event', // RFC 6665
  r: 'refer-to', // RFC 3515
  s: 'subject',
  t: 'to',
  u: 'allow-events', // RFC 6665
  v: 'via',
  x: 'session-expires', // RFC 4028
  y: 'identity', // RFC 4474
};

/** Lower-case long name → the spelling we write for headers we create. */
const DISPLAY: Readonly<Record<string, string>> = {
  'accept': 'Accept',
  'allow': 'Allow',
  'authentication-info': 'Authentication-Info',
  'authorization': 'Authorization',
  'call-id': 'Call-ID',
  'contact': 'Contact',
  'content-length': 'Content-Length',
  'content-type': 'Content-Type',
  'cseq': 'CSeq',
  'date': 'Date',
  'expires': 'Expires',
  'from': 'From',
  'max-forwards': 'Max-Forwards',
  'min-expires': 'Min-Expires',
  'p-associated-uri': 'P-Associated-URI',
  'path': 'Path',
  'proxy-authenticate': 'Proxy-Authenticate',
  'proxy-authorization': 'Proxy-Authorization',
  'proxy-require': 'Proxy-Require',
  'record-route': 'Record-Route',
  'require': 'Require',
  'retry-after': 'Retry-After',
  'route': 'Route',
  'security-client': 'Security-Client',
  'security-server': 'Security-Server',
  'security-verify': 'Security-Verify',
  'server': 'Server',
  'service-route': 'Service-Route',
  'supported': 'Supported',
  'timestamp': 'Timestamp',
  'to': 'To',
  'unsupported': 'Unsupported',
  'user-agent': 'User-Agent',
  'via': 'Via',
  'warning': 'Warning',
  'www-authenticate': 'WWW-Authenticate',
};

/** Canonical keys of the names a registrar looks up, so the hot path does no lower-casing for them. */
const KNOWN = new Map<string, string>();
for (const key of Object.keys(DISPLAY)) {
  KNOWN.set(key, key);
  KNOWN.set(DISPLAY[key] as string, key);
}
for (const [short, key] of Object.entries(COMPACT)) {
  KNOWN.set(short, key);
  KNOWN.set(short.toUpperCase(), key);
}

/**
 * The internal key of a header name: lower case, compact forms expanded.
 * @param name a header name as written on the wire or by a caller (`Via`, `v`, `CALL-ID`, …).
 */
export function headerKey(name: string): string {
  const known = KNOWN.get(name);
  if (known !== undefined) return known;
  const lower = name.toLowerCase();
  return lower.length === 1 ? (COMPACT[lower] ?? lower) : lower;
}

/**
 * The conventional spelling of a header name, for headers this stack writes.
 * @param name any spelling.
 */
export function displayName(name: string): string {
  const key = headerKey(name);
  return DISPLAY[key] ?? name;
}
