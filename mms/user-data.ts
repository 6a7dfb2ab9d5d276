/**
 * Rewriting the SAA User-Data (the IMSSubscription document of TS 29.228 Annex D / schema Annex E) from primary to
 * partner identities: `<PrivateID>` gets the partner IMPI, every `<ServiceProfile><PublicIdentity><Identity>` the
 * partner IMPU; a `<PublicIdentity>` without a mapping is removed, and so is a `<ServiceProfile>` left without any
 * (the schema needs one per profile). Everything else stays byte-for-byte: the document is scanned into elements
 * with their offsets and only those ranges are spliced, so iFCs, extensions, comments and formatting pass untouched.
 *
 * This is not a general XML parser: it reads what a well-formed, DTD-free document needs (tags, attributes with
 * quoted values, comments, CDATA, processing instructions, character and the five predefined entity references) and
 * refuses everything else, because a document it cannot fully follow cannot be rewritten safely.
 */
import { MmsError } from './errors.ts';

/** How identities are mapped. */
export interface UserDataMapping {
  /** The value `<PrivateID>` gets. */
  privateId: string;
  /** The partner IMPU of a primary IMPU, or undefined to remove its `<PublicIdentity>`. */
  impu(primary: string): string | undefined;
}

/** The rewritten document and what was done to it. */
export interface UserDataRewrite {
  data: Buffer;
  /** Primary IMPUs whose `<PublicIdentity>` was removed (no mapping). */
  removed: string[];
  /** How many `<Identity>` values were mapped. */
  mapped: number;
}

interface Element {
  /** Qualified name as written (prefix kept, for re-emitting a self-closing tag). */
  qname: string;
  local: string;
  /** Offset of `<` of the start tag. */
  start: number;
  /** Offsets of the content; equal for a self-closing element. */
  contentStart: number;
  contentEnd: number;
  /** Offset after the end tag's `>`. */
  end: number;
  selfClosing: boolean;
  children: Element[];
}

function fail(message: string): never {
  throw new MmsError('ERR_MMS_BAD_ANSWER', `User-Data: ${message}`);
}

const NAME = /[A-Za-z_][\w.\-:]*/y;

const END_GT = /\s*>/y;

/** The XML name starting at `at`, or undefined. */
function nameAt(xml: string, at: number): string | undefined {
  NAME.lastIndex = at;
  return NAME.exec(xml)?.[0];
}

/** Escapes the five XML special characters of a value to insert. */
export function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

function skipPast(xml: string, from: number, token: string, what: string): number {
  const at = xml.indexOf(token, from);
  if (at === -1) fail(`unterminated ${what}`);
  return at + token.length;
}

const REFERENCE = /&(?:#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/y;

/** Every `&` must start a predefined or character reference: without a DTD, anything else is not well-formed. */
function checkReferences(text: string): void {
  for (let at = text.indexOf('&'); at !== -1; at = text.indexOf('&', at + 1)) {
    REFERENCE.lastIndex = at;
    if (!REFERENCE.test(text)) fail('undefined or malformed entity reference');
  }
}

/** Scans the document into its root element; throws on anything not well-formed enough to rewrite. */
function parse(xml: string): Element {
  const stack: Element[] = [];
  let root: Element | undefined;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt === -1 ? xml.length : lt);
    if (stack.length === 0 && text.trim() !== '') fail('text outside the root element');
    checkReferences(text);
    if (lt === -1) break;
    i = lt;
    if (xml.startsWith('<!--', i)) i = skipPast(xml, i + 4, '-->', 'comment');
    else if (xml.startsWith('<![CDATA[', i)) {
      if (stack.length === 0) fail('CDATA outside the root element');
      i = skipPast(xml, i + 9, ']]>', 'CDATA section');
    } else if (xml.startsWith('<?', i)) {
      const end = skipPast(xml, i + 2, '?>', 'processing instruction');
      const pi = xml.slice(i, end);
      const enc = /^<\?xml\s[^]*?encoding\s*=\s*["']([^"']*)["']/.exec(pi);
      if (enc && !/^utf-?8$/i.test(enc[1] as string)) fail(`encoding ${enc[1] as string} is not supported`);
      i = end;
    } else if (xml.startsWith('<!', i)) {
      // A DTD could declare entities that change what the identities read as; IMS subscriptions never carry one.
      fail('DOCTYPE and markup declarations are not accepted');
    } else if (xml.startsWith('</', i)) {
      const name = nameAt(xml, i + 2) ?? fail('malformed end tag');
      const close = i + 2 + name.length;
      END_GT.lastIndex = close;
      const gt = END_GT.exec(xml) ?? fail(`malformed end tag </${name}`);
      const el = stack.pop();
      if (!el || el.qname !== name) fail(`</${name}> does not close <${el?.qname ?? 'nothing'}>`);
      el.contentEnd = i;
      el.end = close + gt[0].length;
      i = el.end;
    } else {
      const name = nameAt(xml, i + 1) ?? fail('malformed start tag');
      let j = i + 1 + name.length;
      let quote = '';
      for (; j < xml.length; j++) {
        const c = xml[j] as string;
        if (quote) { if (c === quote) quote = ''; continue; }
        if (c === '"' || c === "'") quote = c;
        else if (c === '<') fail(`< inside the tag <${name}`);
        else if (c === '>') break;
      }
      if (j >= xml.length) fail(`unterminated tag <${name}`);
      checkReferences(xml.slice(i, j));
      const selfClosing = xml[j - 1] === '/';
      const end = j + 1;
      const local = name.slice(name.indexOf(':') + 1);
      const el: Element = { qname: name, local, start: i, contentStart: end, contentEnd: end, end, selfClosing, children: [] };
      if (stack.length === 0) {
        if (root) fail('more than one root element');
        root = el;
      } else (stack[stack.length - 1] as Element).children.push(el);
      if (!selfClosing) stack.push(el);
      i = end;
    }
  }
  if (stack.length) fail(`<${(stack[stack.length - 1] as Element).qname}> is not closed`);
  return root ?? fail('no root element');
}

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** The character data of a leaf element: entities decoded, CDATA unwrapped, comments dropped, trimmed. */
function textOf(xml: string, el: Element): string {
  if (el.children.length) fail(`<${el.qname}> has child elements`);
  const raw = xml.slice(el.contentStart, el.contentEnd);
  let out = '';
  for (let i = 0; i < raw.length;) {
    if (raw.startsWith('<!--', i)) i = raw.indexOf('-->', i) + 3;
    else if (raw.startsWith('<![CDATA[', i)) {
      const end = raw.indexOf(']]>', i);
      out += raw.slice(i + 9, end);
      i = end + 3;
    } else if (raw.startsWith('<?', i)) i = raw.indexOf('?>', i) + 2;
    else if (raw[i] === '&') {
      const m = /^&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z]+);/.exec(raw.slice(i)) ?? fail(`bad entity reference in <${el.qname}>`);
      const ref = m[1] as string;
      const cp = ref.startsWith('#x') ? parseInt(ref.slice(2), 16) : ref.startsWith('#') ? parseInt(ref.slice(1), 10) : undefined;
      if (cp === undefined) out += ENTITIES[ref] ?? fail(`undefined entity &${ref}; in <${el.qname}>`);
      else if (cp > 0x10ffff) fail(`bad character reference in <${el.qname}>`);
      else out += String.fromCodePoint(cp);
      i += m[0].length;
    } else out += raw[i++];
  }
  return out.trim();
}

interface Edit {
  from: number;
  to: number;
  text: string;
}

/** An edit that replaces the element's content, turning `<X/>` into `<X>…</X>` when needed. */
function replaceContent(el: Element, escaped: string): Edit {
  if (el.selfClosing) return { from: el.start, to: el.end, text: `<${el.qname}>${escaped}</${el.qname}>` };
  return { from: el.contentStart, to: el.contentEnd, text: escaped };
}

/** An edit that removes the element together with the indentation in front of it. */
function removeElement(xml: string, el: Element): Edit {
  let from = el.start;
  while (from > 0 && /\s/.test(xml[from - 1] as string)) from--;
  // Whitespace that follows text (mixed content) is part of that text, not indentation.
  if (from > 0 && xml[from - 1] !== '>') from = el.start;
  return { from, to: el.end, text: '' };
}

/**
 * Rewrites an IMSSubscription document (UTF-8) to partner identities.
 * @param data the primary HSS's User-Data octets.
 * @throws MmsError ERR_MMS_BAD_ANSWER when the document is not UTF-8, not well-formed, has a DTD, or its root is not
 *   `IMSSubscription`: a document that cannot be followed cannot be rewritten without leaking primary identities.
 */
export function rewriteUserData(data: Buffer, mapping: UserDataMapping): UserDataRewrite {
  let xml: string;
  try {
    // ignoreBOM keeps a BOM in the string, so re-encoding gives back the same octets.
    xml = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(data);
  } catch {
    fail('not valid UTF-8');
  }
  const root = parse(xml);
  if (root.local !== 'IMSSubscription') fail(`root element is <${root.qname}>, not <IMSSubscription>`);
  const edits: Edit[] = [];
  const removed: string[] = [];
  let mapped = 0;
  for (const el of root.children) {
    if (el.local === 'PrivateID') edits.push(replaceContent(el, xmlEscape(mapping.privateId)));
    if (el.local !== 'ServiceProfile') continue;
    const publics = el.children.filter((c) => c.local === 'PublicIdentity');
    const gone: Element[] = [];
    const local: Edit[] = [];
    for (const pub of publics) {
      const ids = pub.children.filter((c) => c.local === 'Identity');
      if (ids.length !== 1) fail(`<${pub.qname}> has ${ids.length} <Identity> elements`);
      const id = ids[0] as Element;
      const primary = textOf(xml, id);
      const partner = mapping.impu(primary);
      if (partner === undefined) {
        gone.push(pub);
        removed.push(primary);
      } else {
        local.push(replaceContent(id, xmlEscape(partner)));
        mapped++;
      }
    }
    if (publics.length > 0 && gone.length === publics.length) edits.push(removeElement(xml, el));
    else edits.push(...local, ...gone.map((pub) => removeElement(xml, pub)));
  }
  let out = xml;
  for (const e of edits.sort((a, b) => b.from - a.from)) out = out.slice(0, e.from) + e.text + out.slice(e.to);
  return { data: Buffer.from(out, 'utf8'), removed, mapped };
}
