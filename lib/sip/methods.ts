/**
 * The SIP methods this stack knows by name: RFC 3261's own and those of the extensions an IMS core meets (RFC 3262
 * PRACK, 3311 UPDATE, 3428 MESSAGE, 3515 REFER, 3903 PUBLISH, 6086 INFO, 6665 SUBSCRIBE/NOTIFY). Method names are
 * case-sensitive (RFC 3261 §7.1).
 */
export const SIP_METHODS = [
  'REGISTER', 'OPTIONS', 'INVITE', 'ACK', 'CANCEL', 'BYE', 'PRACK', 'UPDATE', 'MESSAGE', 'REFER', 'PUBLISH', 'INFO',
  'SUBSCRIBE', 'NOTIFY',
] as const;
