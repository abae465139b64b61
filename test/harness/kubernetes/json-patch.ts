// JSON Patch (RFC 6902) over JSON Pointers (RFC 6901), with the error messages of the json-patch library the API
// server uses. move and copy are recognised but refused: this engine does not implement them.
import { z } from 'zod';
import { canonicalJson } from './canonical-json';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const patchSchema = z.array(
  z.discriminatedUnion('op', [
    z.object({ op: z.enum(['add', 'replace', 'test']), path: z.string(), value: z.unknown() }),
    z.object({ op: z.literal('remove'), path: z.string() }),
    z.object({ op: z.enum(['move', 'copy']), path: z.string(), from: z.string() }),
  ]),
);
export type JsonPatchOperation = z.infer<typeof patchSchema>[number];

type SupportedOperation =
  { op: 'add' | 'replace' | 'test'; path: string; value: unknown } | { op: 'remove'; path: string };

/** An operation that does not apply to the document (the API server answers 422). */
export class JsonPatchError extends Error {}

/** The operations of a JSON Patch body, or undefined when the body is not JSON or not a list of operations. */
export function parseJsonPatch(body: string): JsonPatchOperation[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const result = patchSchema.safeParse(parsed);
  return result.success ? result.data : undefined;
}

/** A deep copy of `value` as JSON would carry it. */
export function toJson(value: unknown): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}

/** `document` with the operations applied in order, as a new document; the first that does not apply throws. */
export function applyJsonPatch(document: Json, operations: JsonPatchOperation[]): Json {
  let root = structuredClone(document);
  for (const op of operations) {
    if (!isSupported(op))
      throw new JsonPatchError(`the simulated API server does not implement JSON Patch op ${op.op}`);
    const segments = parsePointer(op.path);
    if (segments.length === 0) {
      if (op.op === 'test') {
        if (!jsonEqual(root, toJson(op.value))) throw new JsonPatchError(`Testing value ${op.path} failed`);
      } else if (op.op === 'remove') {
        throw new JsonPatchError('remove operation does not apply: cannot remove the whole document');
      } else {
        root = toJson(op.value);
      }
      continue;
    }
    const parent = resolve(root, segments.slice(0, -1));
    if (parent === undefined || parent === null || typeof parent !== 'object') {
      throw new JsonPatchError(`${op.op} operation does not apply: doc is missing path: ${op.path}`);
    }
    const last = segments.at(-1) ?? '';
    if (Array.isArray(parent)) applyToArray(parent, last, op);
    else applyToObject(parent, last, op);
  }
  return root;
}

function isSupported(op: JsonPatchOperation): op is SupportedOperation {
  return op.op !== 'move' && op.op !== 'copy';
}

function applyToObject(parent: { [key: string]: Json }, key: string, op: SupportedOperation): void {
  const exists = Object.hasOwn(parent, key);
  switch (op.op) {
    case 'test':
      if (!exists) throw new JsonPatchError(`test operation does not apply: is missing path: ${op.path}`);
      if (!jsonEqual(parent[key] ?? null, toJson(op.value)))
        throw new JsonPatchError(`Testing value ${op.path} failed`);
      return;
    case 'replace':
      if (!exists)
        throw new JsonPatchError(`replace operation does not apply: doc is missing key: ${op.path}`);
      parent[key] = toJson(op.value);
      return;
    case 'add':
      parent[key] = toJson(op.value);
      return;
    case 'remove':
      if (!exists)
        throw new JsonPatchError(`remove operation does not apply: doc is missing path: ${op.path}`);
      Reflect.deleteProperty(parent, key);
      return;
  }
}

/** `-` is the index past the end, for `add` only; any other index must name an element (or the end, to add). */
function applyToArray(parent: Json[], segment: string, op: SupportedOperation): void {
  const index = segment === '-' && op.op === 'add' ? parent.length : Number(segment);
  const limit = op.op === 'add' ? parent.length : parent.length - 1;
  if (!/^(\d+|-)$/.test(segment) || !Number.isInteger(index) || index > limit) {
    throw new JsonPatchError(`${op.op} operation does not apply: index out of range: ${op.path}`);
  }
  switch (op.op) {
    case 'test':
      if (!jsonEqual(parent[index] ?? null, toJson(op.value)))
        throw new JsonPatchError(`Testing value ${op.path} failed`);
      return;
    case 'replace':
      parent[index] = toJson(op.value);
      return;
    case 'add':
      parent.splice(index, 0, toJson(op.value));
      return;
    case 'remove':
      parent.splice(index, 1);
      return;
  }
}

/** The reference tokens of a pointer, unescaped: `~1` is `/` and `~0` is `~`, in that order, so `~01` is `~1`. */
function parsePointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new JsonPatchError(`JSON pointer ${path} does not start with /`);
  return path
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function resolve(root: Json, segments: string[]): Json | undefined {
  let node: Json | undefined = root;
  for (const segment of segments) {
    if (Array.isArray(node)) node = node[Number(segment)];
    else if (node !== null && typeof node === 'object')
      node = Object.hasOwn(node, segment) ? node[segment] : undefined;
    else return undefined;
  }
  return node;
}

function jsonEqual(a: Json, b: Json): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
