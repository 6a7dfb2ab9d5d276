/**
 * The systemd unit templates of deploy/systemd read the way systemd reads them, as far as the rehearsal of a
 * multi-host deployment (deploy/netns) and the units' tests need: sections and settings (continuation lines,
 * comments, repeated keys), the specifiers the templates use (`%i`, `%d`, `%S`, `%%`), `Environment=` and
 * `EnvironmentFile=` (systemd.exec), and ExecStart= with `${VAR}` (one word) and `$VAR` (split at blanks) substitution
 * (systemd.service "Command lines"). It is stricter than systemd where systemd would quietly run something else: an
 * unknown specifier, an unset variable, quoting or an ExecStart prefix (`-`, `@`, `+`, `!`) is an error naming it.
 */

/** A unit file: its sections, each a list of settings in file order (a key may repeat, as ExecStart= or LoadCredential=). */
export interface UnitFile {
  sections: ReadonlyMap<string, ReadonlyArray<readonly [key: string, value: string]>>;
}

/** A unit file that cannot be read the way the rehearsal needs; `field` names the setting or line. */
export class UnitError extends Error {
  readonly code = 'ERR_UNIT';
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'UnitError';
  }
}

/**
 * Reads a unit file (systemd.syntax): `[Section]` headers, `Key=Value` lines, `#`/`;` comments, a trailing backslash
 * joining the next line with a blank.
 * @throws UnitError for a line outside a section or without `=`.
 */
export function parseUnit(text: string): UnitFile {
  const sections = new Map<string, Array<[string, string]>>();
  let current: Array<[string, string]> | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const at = i + 1;
    let line = (lines[i] as string).trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1).trimEnd()} ${(lines[++i] as string).trim()}`;
    const section = /^\[([^\]]+)\]$/.exec(line);
    if (section) {
      current = sections.get(section[1] as string) ?? [];
      sections.set(section[1] as string, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current) throw new UnitError(`line ${at}`, 'a setting before any [Section]');
    if (eq <= 0) throw new UnitError(`line ${at}`, `expected Key=Value, got ${JSON.stringify(line)}`);
    current.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return { sections };
}

/** Every value of `key` in `section`, in file order. */
export function settings(unit: UnitFile, section: string, key: string): string[] {
  return (unit.sections.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

/** The one value of `key` in `section`, or undefined. @throws UnitError when it is given more than once. */
export function setting(unit: UnitFile, section: string, key: string): string | undefined {
  const all = settings(unit, section, key);
  if (all.length > 1) throw new UnitError(`${key}=`, `given ${all.length} times in [${section}]`);
  return all[0];
}

/** What the specifiers of a template stand for in one instance. */
export interface Specifiers {
  /** `%i`: the instance name. */
  i: string;
  /** `%d`: the credentials directory (LoadCredential=). */
  d: string;
  /** `%S`: the state directory root (/var/lib for system units). */
  S: string;
}

/**
 * Resolves `%i`, `%d`, `%S` and `%%` (systemd.unit "Specifiers").
 * @throws UnitError naming any other specifier, which the rehearsal would not resolve as systemd does.
 */
export function expandSpecifiers(text: string, spec: Specifiers, field: string): string {
  return text.replace(/%(.)/g, (_, c: string) => {
    if (c === '%') return '%';
    if (c === 'i' || c === 'd' || c === 'S') return spec[c];
    throw new UnitError(field, `specifier %${c} is not one the rehearsal resolves (%i, %d, %S, %%)`);
  });
}

/** A value of systemd's environment syntax: `"…"` (backslash escapes), `'…'`, or bare. */
function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) return value.slice(1, -1).replace(/\\(.)/g, '$1');
  if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) return value.slice(1, -1);
  return value;
}

/**
 * Reads an EnvironmentFile= (systemd.exec): `KEY=VALUE` lines, `#`/`;` comments and blank lines skipped, values
 * optionally quoted.
 * @throws UnitError naming the line that is not `KEY=VALUE` with a shell variable name.
 */
export function parseEnvironmentFile(text: string, file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new UnitError(`${file}:${i + 1}`, `expected KEY=VALUE, got ${JSON.stringify(line)}`);
    env[m[1] as string] = unquote((m[2] as string).trim());
  }
  return env;
}

/** One `Environment=` setting: `KEY=VALUE` assignments separated by blanks (one here, as every template writes them). */
function parseEnvironmentSetting(value: string): [string, string] {
  const m = /^"?([A-Za-z_][A-Za-z0-9_]*)=(.*?)"?$/.exec(value);
  if (!m || /\s/.test(m[2] as string)) throw new UnitError('Environment=', `expected one KEY=VALUE without blanks, got ${JSON.stringify(value)}`);
  return [m[1] as string, m[2] as string];
}

/**
 * Splits an ExecStart= command line into the program and its arguments, substituting `${VAR}` inside a word and a
 * word `$VAR` by the value split at blanks (none for an empty value).
 * @throws UnitError for quotes, backslashes, an ExecStart prefix or a variable `env` does not set.
 */
export function commandLine(line: string, env: Readonly<Record<string, string>>): string[] {
  if (/["'\\]/.test(line)) throw new UnitError('ExecStart=', 'quoting and escapes are not used by these templates');
  if (/^[-@+!:|]/.test(line)) throw new UnitError('ExecStart=', `prefix ${line[0]} is not used by these templates`);
  const value = (name: string): string => {
    const v = env[name];
    if (v === undefined) throw new UnitError('ExecStart=', `\${${name}} is not set (EnvironmentFile= or Environment=)`);
    return v;
  };
  const argv: string[] = [];
  for (const word of line.split(/\s+/).filter(Boolean)) {
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
    if (whole) argv.push(...value(whole[1] as string).split(/\s+/).filter(Boolean));
    else argv.push(word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => value(name)));
  }
  return argv;
}

/** One instance of a service template, resolved as systemd would start it. */
export interface ServiceInstance {
  /** The program and its arguments. */
  argv: string[];
  /** The environment the service gets from Environment= and EnvironmentFile= (later settings win). */
  env: Record<string, string>;
  /** LoadCredential= entries: the credential's name in `%d` and the file it is copied from. */
  credentials: Array<{ id: string; path: string }>;
  /** StateDirectory= entries below `%S`. */
  stateDirectories: string[];
  workingDirectory?: string;
}

/** How a launcher that is not systemd places an instance. */
export interface InstanceOptions {
  specifiers: Specifiers;
  /** Reads an EnvironmentFile= (its path already rewritten). */
  readFile: (path: string) => string;
  /** Rewrites a path of the real host (e.g. /etc/mcx/…) to where the rehearsal keeps it; default none. */
  rewrite?: (text: string) => string;
}

/**
 * Resolves the [Service] of a template for one instance: specifiers, Environment= then EnvironmentFile= (in that
 * order, later values winning, as systemd.exec says), ExecStart=, LoadCredential=, StateDirectory=,
 * WorkingDirectory=. `rewrite` applies to every resolved path and word.
 * @throws UnitError for a missing or repeated ExecStart=, or anything {@link commandLine} refuses.
 */
export function instantiate(unit: UnitFile, o: InstanceOptions): ServiceInstance {
  const rw = o.rewrite ?? ((s: string) => s);
  const spec = (v: string, field: string): string => rw(expandSpecifiers(v, o.specifiers, field));
  // As the real host has them; rewritten once, in the words of the command line and in the environment handed over.
  const env: Record<string, string> = {};
  for (const v of settings(unit, 'Service', 'Environment')) {
    const [k, val] = parseEnvironmentSetting(expandSpecifiers(v, o.specifiers, 'Environment='));
    env[k] = val;
  }
  for (const f of settings(unit, 'Service', 'EnvironmentFile')) {
    const path = spec(f.replace(/^-/, ''), 'EnvironmentFile=');
    Object.assign(env, parseEnvironmentFile(o.readFile(path), path));
  }
  const exec = setting(unit, 'Service', 'ExecStart');
  if (exec === undefined) throw new UnitError('ExecStart=', 'missing in [Service]');
  const argv = commandLine(expandSpecifiers(exec, o.specifiers, 'ExecStart='), env).map(rw);
  const credentials = settings(unit, 'Service', 'LoadCredential').map((v) => {
    const colon = v.indexOf(':');
    if (colon <= 0) throw new UnitError('LoadCredential=', `expected ID:PATH, got ${JSON.stringify(v)}`);
    return { id: v.slice(0, colon), path: spec(v.slice(colon + 1), 'LoadCredential=') };
  });
  const stateDirectories = settings(unit, 'Service', 'StateDirectory').flatMap((v) => expandSpecifiers(v, o.specifiers, 'StateDirectory=').split(/\s+/));
  const wd = setting(unit, 'Service', 'WorkingDirectory');
  const handed = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, rw(v)]));
  return { argv, env: handed, credentials, stateDirectories, ...(wd === undefined ? {} : { workingDirectory: spec(wd, 'WorkingDirectory=') }) };
}
