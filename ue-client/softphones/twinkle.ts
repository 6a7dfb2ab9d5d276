/**
 * Twinkle 1.10.2 (Debian's `twinkle-console`) files: a user profile (`<label>-<transport>.cfg`) per transport and
 * the system settings (`twinkle.sys`) of the Twinkle home they live in.
 *
 * What the profile must say, as Twinkle 1.10.2 reads it (src/user.cpp, src/parser/request.cpp at v1.10.2):
 * - `auth_pass` is K as its 16 raw octets: the AKAv1-MD5 code copies the password bytes into K (`memcpy`), so K in hex
 *   overflows the 16-octet key and crashes it (hex is read from 1.10.3 on); `auth_aka_op` and `auth_aka_amf` are hex.
 *   Lines are split at LF and values trimmed of spaces (model.ts {@link rawKeyProblem}).
 * - Server values have no scheme (`outbound_proxy=127.0.0.1:5060`): Twinkle prefixes `sip:` itself, and a value that
 *   then does not parse is dropped silently, leaving nowhere to send the REGISTER.
 * - `sip_transport` is `udp` or `tcp`: Twinkle has no SIP over TLS.
 * - Presence publication is off: the registrar answers PUBLISH with 405, which Twinkle reports as a failure.
 *
 * The system settings pick Twinkle's own SIP port (UDP and TCP; its default 5060 is the registrar's on a default
 * testbed) and the ALSA `null` device for ring tone, speaker and microphone, unvalidated: headless, no sound card.
 */
import { rawKeyProblem, uriHost, impuParts, type AkaClientUser, type RegistrarListeners } from './model.ts';

/** How long Twinkle asks to stay registered (the registrar may shorten it). */
export const TWINKLE_REGISTRATION_S = 3600;

/**
 * The profile of `u` for `transport`, as the bytes of the file (K is raw).
 * @throws Error naming the key octets a profile cannot carry.
 */
export function twinkleProfile(u: AkaClientUser, at: RegistrarListeners, transport: 'udp' | 'tcp'): Buffer {
  const problem = rawKeyProblem('K', u.k);
  if (problem) throw new Error(`Twinkle profile of ${u.impi}: ${problem}`);
  const { user, host } = impuParts(u.impu);
  const head = [
    `# Twinkle 1.10.2 profile for ${u.impu} (IMS AKA, SIP over ${transport.toUpperCase()}), written by mcx.`,
    '# auth_pass is K as 16 raw octets (what Twinkle 1.10.2 expects; 1.10.3 and later take K in hex): do not edit it as text.',
    `user_name=${user}`,
    `user_domain=${host}`,
    'user_display=',
    'user_organization=',
    `auth_realm=${u.domain}`,
    `auth_name=${u.impi}`,
    'auth_pass=',
  ].join('\n');
  const tail = [
    '',
    `auth_aka_op=${u.op.toString('hex')}`,
    `auth_aka_amf=${u.amf.toString('hex')}`,
    `outbound_proxy=${uriHost(at.host)}:${at.port}`,
    'all_requests_to_proxy=yes',
    'registrar=',
    'register_at_startup=yes',
    `registration_time=${TWINKLE_REGISTRATION_S}`,
    `sip_transport=${transport}`,
    'pres_publish_startup=no',
    'mwi_solicited=no',
    '',
  ].join('\n');
  return Buffer.concat([Buffer.from(head, 'utf8'), u.k, Buffer.from(tail, 'utf8')]);
}

/**
 * `twinkle.sys`: Twinkle's SIP port and null audio.
 * @param sipPort the UDP and TCP port Twinkle listens on.
 */
export function twinkleSystemSettings(sipPort: number): string {
  return [
    '# Twinkle system settings written by mcx: its own SIP port, ALSA null audio (headless, no sound card).',
    `sip_port=${sipPort}`,
    'dev_ringtone=alsa:null',
    'dev_speaker=alsa:null',
    'dev_mic=alsa:null',
    'validate_audio_dev=no',
    'log_show_sip=yes',
    'gui_use_systray=no',
    '',
  ].join('\n');
}
