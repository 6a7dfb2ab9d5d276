/**
 * baresip 1.0 (Debian 12) files: the `accounts` line of a SIP Digest user and the minimal `config` of the directory
 * `baresip -f DIR` runs from — SIP on a random loopback port, the console (`stdio`, `menu`: `q` quits and
 * de-registers), the account loader, G.711, and ALSA's `null` device for audio (headless, no sound card). Modules
 * load from Debian's `/usr/lib/baresip/modules`.
 *
 * baresip 1.0 fails a registration whose 401 carries any challenge it cannot compute ("Function not implemented" for
 * SHA-256) instead of skipping it: the registrar must offer MD5 alone (its default).
 */
import { uriHost, type DigestClientUser, type RegistrarListeners } from './model.ts';

/** How long baresip asks to stay registered (`regint`; the registrar may shorten it). */
export const BARESIP_REGINT_S = 3600;

/** Debian's module directory. */
const MODULE_PATH = '/usr/lib/baresip/modules';

/**
 * The `accounts` file of `u` (UDP; the comment says how to switch to TCP).
 * @throws Error for a password an account line cannot carry (`;`, `"`, `>`, blanks or control characters).
 */
export function baresipAccounts(u: DigestClientUser, at: RegistrarListeners): string {
  if (!/^[\x21-\x7e]+$/.test(u.password) || /[;">]/.test(u.password)) {
    throw new Error(`baresip account of ${u.impi}: the password holds characters an accounts line cannot carry`);
  }
  return [
    `# baresip account of ${u.impu} (SIP Digest), written by mcx. For TCP, change transport=udp to transport=tcp.`,
    `<${u.impu}>;auth_user=${u.impi};auth_pass=${u.password};outbound="sip:${uriHost(at.host)}:${at.port};transport=udp";regint=${BARESIP_REGINT_S}`,
    '',
  ].join('\n');
}

/**
 * The `config` file.
 * @param host the address baresip binds (the registrar's, so loopback reaches loopback).
 */
export function baresipConfig(host: string): string {
  return [
    '# baresip 1.0 configuration written by mcx: baresip -f <this directory> (it registers ./accounts; q quits)',
    'poll_method\t\tepoll',
    `sip_listen\t\t${uriHost(host)}:0`,
    `module_path\t\t${MODULE_PATH}`,
    'module\t\t\tstdio.so',
    'module\t\t\tg711.so',
    'module\t\t\talsa.so',
    'module_app\t\taccount.so',
    'module_app\t\tmenu.so',
    'audio_player\t\talsa,null',
    'audio_source\t\talsa,null',
    'audio_alert\t\talsa,null',
    '',
  ].join('\n');
}
