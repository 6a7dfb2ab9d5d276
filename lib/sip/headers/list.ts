/**
 * The header fields of one message, in wire order, as raw (unfolded, trimmed) text. Nothing here parses values:
 * structured readers live beside it and cache their results on the message. Lookups scan linearly, which beats a
 * map for the ten to twenty fields of a SIP message and keeps construction allocation-light.
 */
import { headerKey } from './names.ts';

/** One header field line. */
export interface HeaderField {
  /** The name as written (or as the caller gave it). */
  name: string;
  /** Lower-case long name (compact forms expanded). */
  key: string;
  /** Unfolded value without leading/trailing white space. */
  value: string;
}

/** Ordered, mutable header fields with case-insensitive, compact-form-aware lookup. */
export class HeaderList {
  /** The fields in order. Mutate through the methods so `revision` moves and cached parses are dropped. */
  readonly fields: HeaderField[];
  /** Incremented on every change. */
  revision = 0;

  /**
   * @param fields initial fields (taken, not copied).
   */
  constructor(fields: HeaderField[] = []) {
    this.fields = fields;
  }

  /**
   * Builds a list from name/value pairs.
   * @param pairs `[name, value]` in order.
   */
  static from(pairs: Iterable<readonly [string, string]>): HeaderList {
    const list = new HeaderList();
    for (const [n, v] of pairs) list.append(n, v);
    return list;
  }

  /** Number of fields. */
  get length(): number {
    return this.fields.length;
  }

  /**
   * The value of the first field with this name.
   * @param name any spelling, compact or long.
   */
  get(name: string): string | undefined {
    const key = headerKey(name);
    for (const f of this.fields) if (f.key === key) return f.value;
    return undefined;
  }

  /**
   * The values of every field with this name, in order (one entry per field line; comma lists are not split).
   * @param name any spelling, compact or long.
   */
  getAll(name: string): string[] {
    const key = headerKey(name);
    const out: string[] = [];
    for (const f of this.fields) if (f.key === key) out.push(f.value);
    return out;
  }

  /**
   * True when at least one field has this name.
   * @param name any spelling.
   */
  has(name: string): boolean {
    return this.indexOf(name) >= 0;
  }

  /**
   * Number of fields with this name.
   * @param name any spelling.
   */
  count(name: string): number {
    const key = headerKey(name);
    let n = 0;
    for (const f of this.fields) if (f.key === key) n++;
    return n;
  }

  /**
   * Index of the first field with this name, or -1.
   * @param name any spelling.
   */
  indexOf(name: string): number {
    const key = headerKey(name);
    for (let i = 0; i < this.fields.length; i++) if (this.fields[i]?.key === key) return i;
    return -1;
  }

  /**
   * Adds a field at the end.
   * @param name header name; written as given.
   * @param value the value (no CR/LF).
   */
  append(name: string, value: string): void {
    this.fields.push({ name, key: headerKey(name), value });
    this.revision++;
  }

  /**
   * Adds a field before all others (how a Via is added to a request, §8.1.1.7).
   * @param name header name.
   * @param value the value.
   */
  prepend(name: string, value: string): void {
    this.fields.unshift({ name, key: headerKey(name), value });
    this.revision++;
  }

  /**
   * Replaces the first field with this name (keeping its position) and removes the others; appends when absent.
   * @param name header name.
   * @param value the new value.
   */
  set(name: string, value: string): void {
    const key = headerKey(name);
    const i = this.indexOf(name);
    if (i < 0) {
      this.append(name, value);
      return;
    }
    const f = this.fields[i] as HeaderField;
    f.value = value;
    for (let j = this.fields.length - 1; j > i; j--) if (this.fields[j]?.key === key) this.fields.splice(j, 1);
    this.revision++;
  }

  /**
   * Replaces the value of the field at `index`.
   * @param index position in `fields`.
   * @param value the new value.
   */
  setAt(index: number, value: string): void {
    const f = this.fields[index];
    if (!f) return;
    f.value = value;
    this.revision++;
  }

  /**
   * Removes every field with this name.
   * @param name any spelling.
   * @returns how many were removed.
   */
  remove(name: string): number {
    const key = headerKey(name);
    const before = this.fields.length;
    for (let j = this.fields.length - 1; j >= 0; j--) if (this.fields[j]?.key === key) this.fields.splice(j, 1);
    const removed = before - this.fields.length;
    if (removed > 0) this.revision++;
    return removed;
  }

  /** A deep copy (fields are small objects; values are immutable strings). */
  clone(): HeaderList {
    return new HeaderList(this.fields.map((f) => ({ name: f.name, key: f.key, value: f.value })));
  }
}
