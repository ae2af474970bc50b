/**
 * RFC 6902 JSON Patch computed from the difference between two JSON documents. Lists of named
 * objects (containers, env, volumes) are matched by `name`, so an insertion at the front is one
 * `add`, not a cascade of `replace`s; anything else falls back to appends or a whole-list replace.
 */

export type JsonPatchOperation = { op: 'add'; path: string; value: unknown } | { op: 'remove'; path: string } | { op: 'replace'; path: string; value: unknown };

/**
 * The operations of a mutation, recorded as it is made: the mutation writes its copy of the object
 * and says here what it wrote, so the patch needs no diff of the two. Every path is one in the
 * object as it stands after the operations recorded before it (indices included).
 *
 * @example
 * const ops = new PatchRecorder();
 * ops.append('/spec/volumes', pod.spec.volumes, [volume]); // add /spec/volumes/2, or /spec/volumes [volume]
 */
export class PatchRecorder {
  readonly ops: JsonPatchOperation[] = [];

  /** `value` set at `path`: a member added (`existed` false) or replaced. */
  set(path: string, value: unknown, existed = false): void {
    this.ops.push(existed ? { op: 'replace', path, value } : { op: 'add', path, value });
  }

  /** `items` appended to the list at `path`, which was `existing` (undefined: there was none). */
  append(path: string, existing: readonly unknown[] | undefined, items: readonly unknown[]): void {
    if (items.length === 0) return;
    if (existing === undefined) {
      this.ops.push({ op: 'add', path, value: [...items] });
      return;
    }
    for (let i = 0; i < items.length; i++) this.ops.push({ op: 'add', path: `${path}/${existing.length + i}`, value: items[i] });
  }

  /** `item` inserted first in the list at `path`, which was `existing` (undefined: there was none). */
  prepend(path: string, existing: readonly unknown[] | undefined, item: unknown): void {
    this.ops.push(existing === undefined ? { op: 'add', path, value: [item] } : { op: 'add', path: `${path}/0`, value: item });
  }
}

/** Where in a pod a mutation helper writes, and the recorder it tells. */
export interface PatchAt {
  ops: PatchRecorder;
  /** JSON Pointer of the object the helper changes (a container: /spec/containers/1) */
  path: string;
}

/** JSON already known for values in a patch (see withKnownJson). */
const knownJson = new WeakMap<object, string>();

/**
 * Tells serializePatch the JSON of `value`: exactly `JSON.stringify(value)`, known without it (a
 * container serialised once for many pods, with this pod's values spliced in). The value must not
 * change afterwards.
 */
export function withKnownJson<T extends object>(value: T, json: string): T {
  knownJson.set(value, json);
  return value;
}

/**
 * `JSON.stringify(ops)`, with the JSON of values given to withKnownJson used as it is (the
 * operations between them serialised together, in one call).
 */
export function serializePatch(ops: readonly JsonPatchOperation[]): string {
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i] as JsonPatchOperation;
    const value = op.op === 'remove' ? undefined : op.value;
    const json = typeof value === 'object' && value !== null ? knownJson.get(value) : undefined;
    if (json === undefined) continue;
    if (from < i) parts.push(JSON.stringify(ops.slice(from, i)).slice(1, -1));
    parts.push(`{"op":"${op.op}","path":${JSON.stringify(op.path)},"value":${json}}`);
    from = i + 1;
  }
  if (from === 0) return JSON.stringify(ops);
  if (from < ops.length) parts.push(JSON.stringify(ops.slice(from)).slice(1, -1));
  return `[${parts.join(',')}]`;
}

/** Escapes one JSON Pointer segment (`~` → `~0`, `/` → `~1`). */
export function escapePointerSegment(segment: string): string {
  if (segment.indexOf('~') === -1 && segment.indexOf('/') === -1) return segment;
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * The operations that turn `before` into `after`. Empty when they are equal.
 *
 * @example
 * createJsonPatch({ a: 1 }, { a: 1, b: { c: 2 } }) // [{ op: 'add', path: '/b', value: { c: 2 } }]
 */
export function createJsonPatch(before: unknown, after: unknown): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = [];
  diff(before, after, '', ops);
  return ops;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Structural equality of JSON values (key order ignored; `undefined` members count as absent). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (isPlainObject(a)) {
    if (!isPlainObject(b)) return false;
    let na = 0;
    for (const k of Object.keys(a)) {
      if (a[k] === undefined) continue;
      na++;
      if (!Object.hasOwn(b, k) || !jsonEqual(a[k], b[k])) return false;
    }
    let nb = 0;
    for (const k of Object.keys(b)) if (b[k] !== undefined) nb++;
    return na === nb;
  }
  return false;
}

function diff(a: unknown, b: unknown, path: string, ops: JsonPatchOperation[]): void {
  if (a === b) return;
  if (isPlainObject(a) && isPlainObject(b)) return diffObject(a, b, path, ops);
  if (Array.isArray(a) && Array.isArray(b)) return diffArray(a, b, path, ops);
  if (jsonEqual(a, b)) return;
  ops.push({ op: 'replace', path, value: b });
}

function diffObject(a: Record<string, unknown>, b: Record<string, unknown>, path: string, ops: JsonPatchOperation[]): void {
  for (const k of Object.keys(a)) {
    if (a[k] !== undefined && (!Object.hasOwn(b, k) || b[k] === undefined)) ops.push({ op: 'remove', path: `${path}/${escapePointerSegment(k)}` });
  }
  for (const k of Object.keys(b)) {
    const bv = b[k];
    const av = Object.hasOwn(a, k) ? a[k] : undefined; // never an inherited member ("constructor", "toString")
    if (bv === undefined || av === bv) continue;
    const p = `${path}/${escapePointerSegment(k)}`;
    if (av === undefined) ops.push({ op: 'add', path: p, value: bv });
    else diff(av, bv, p, ops);
  }
}

/** Names of a list of named objects, or undefined when some element has no name or names repeat. */
function namesOf(list: unknown[]): string[] | undefined {
  const names: string[] = [];
  const seen = new Set<string>();
  for (const item of list) {
    if (!isPlainObject(item) || typeof item.name !== 'string' || seen.has(item.name)) return undefined;
    seen.add(item.name);
    names.push(item.name);
  }
  return names;
}

function diffArray(a: unknown[], b: unknown[], path: string, ops: JsonPatchOperation[]): void {
  const na = namesOf(a);
  const nb = na ? namesOf(b) : undefined;
  if (na && nb && isOrderedSubset(na, nb)) {
    // Walk the result left to right: before step j the list holds b[0..j-1] followed by the rest of a.
    let i = 0;
    for (let j = 0; j < b.length; j++) {
      if (i < a.length && na[i] === nb[j]) {
        diff(a[i], b[j], `${path}/${j}`, ops);
        i++;
      } else ops.push({ op: 'add', path: `${path}/${j}`, value: b[j] });
    }
    return;
  }
  if (jsonEqual(a, b)) return;
  if (b.length >= a.length && a.every((v, i) => jsonEqual(v, b[i]))) {
    for (let j = a.length; j < b.length; j++) ops.push({ op: 'add', path: `${path}/${j}`, value: b[j] });
    return;
  }
  ops.push({ op: 'replace', path, value: b });
}

function isOrderedSubset(sub: string[], all: string[]): boolean {
  let i = 0;
  for (const n of all) if (i < sub.length && sub[i] === n) i++;
  return i === sub.length;
}
