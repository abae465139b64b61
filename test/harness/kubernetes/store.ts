// The object store, as etcd behind the API server serves it: one resourceVersion sequence shared by every kind,
// objects keyed by namespace and name, and lists paginated with `limit` and `continue` whose pages all come from
// one snapshot, so a paginated list is consistent even when objects change between pages.
import { z } from 'zod';
import { compareStrings } from './canonical-json';

export interface StoredObject {
  metadata: { namespace: string; name: string; resourceVersion: string };
}

export interface ListOptions<T> {
  namespace: string;
  /** Page size; 0 lists everything. */
  limit: number;
  /** The `continue` of the previous page; absent or empty for the first. */
  continueToken?: string | null;
  matches: (object: T) => boolean;
}

export interface ListPage<T> {
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

/** A `continue` that does not decode (the API server answers 400). */
export class InvalidContinueToken extends Error {
  constructor() {
    super('continue key is not valid: incorrect encoded start resourceVersion');
  }
}

/** A `continue` whose snapshot has been compacted away (the API server answers 410 Gone). */
export class ExpiredContinueToken extends Error {
  constructor() {
    super(
      'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
    );
  }
}

export function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** The cluster-wide resourceVersion: every write, of any kind, takes the next one, as etcd's revision does. */
export class ResourceVersionClock {
  constructor(private last = 1000) {}

  get current(): string {
    return String(this.last);
  }

  /** Gives `object` the next resourceVersion. */
  stamp(object: { metadata: { resourceVersion: string } }): void {
    this.tick();
    object.metadata.resourceVersion = this.current;
  }

  /** Takes a resourceVersion for a write that leaves no object to stamp, such as a deletion. */
  tick(): void {
    this.last += 1;
  }
}

/** How many list snapshots survive compaction; a `continue` into an older one has expired. */
export const SNAPSHOTS_KEPT = 20;

const continueSchema = z.object({ rv: z.string(), start: z.string() });

/** The objects of one kind. Stored objects are returned as they are; callers clone what they hand out. */
export class ObjectStore<T extends StoredObject> {
  private readonly objects = new Map<string, T>();
  /** List snapshots by resourceVersion, oldest first. */
  private readonly snapshots = new Map<string, T[]>();

  constructor(private readonly clock: ResourceVersionClock) {}

  get(namespace: string, name: string): T | undefined {
    return this.objects.get(objectKey(namespace, name));
  }

  /** Stores `object` under its namespace and name, replacing any there, with the next resourceVersion. */
  put(object: T): void {
    this.clock.stamp(object);
    this.objects.set(objectKey(object.metadata.namespace, object.metadata.name), object);
  }

  /** Records a change made to a stored object in place: it takes the next resourceVersion. */
  touch(object: T): void {
    this.clock.stamp(object);
  }

  /** Removes without taking a resourceVersion: the caller ticks the clock once per write, so a cascade is one. */
  delete(namespace: string, name: string): void {
    this.objects.delete(objectKey(namespace, name));
  }

  /** Every object, in the order first stored. */
  all(): T[] {
    return [...this.objects.values()];
  }

  /** Forgets every object and snapshot; the clock runs on. */
  clear(): void {
    this.objects.clear();
    this.snapshots.clear();
  }

  /**
   * One page of the namespace's matching objects in key order. A first page with a limit snapshots the whole kind
   * at the current resourceVersion; its `continue` pages read that snapshot, not the live objects.
   */
  list({ namespace, limit, continueToken, matches }: ListOptions<T>): ListPage<T> {
    let resourceVersion: string;
    let start = '';
    let items: T[];
    if (continueToken) {
      const decoded = decodeContinue(continueToken);
      const snapshot = this.snapshots.get(decoded.rv);
      if (!snapshot) throw new ExpiredContinueToken();
      resourceVersion = decoded.rv;
      start = decoded.start;
      items = snapshot;
    } else {
      resourceVersion = this.clock.current;
      items = [...this.objects.entries()]
        .sort(([a], [b]) => compareStrings(a, b))
        .map(([, object]) => structuredClone(object));
      if (limit > 0) this.keepSnapshot(resourceVersion, items);
    }
    const matching = items.filter(
      (object) =>
        object.metadata.namespace === namespace &&
        objectKey(object.metadata.namespace, object.metadata.name) > start &&
        matches(object),
    );
    const page = limit > 0 ? matching.slice(0, limit) : matching;
    const last = page.at(-1);
    const more = matching.length > page.length && last !== undefined;
    return {
      metadata: {
        resourceVersion,
        ...(more
          ? {
              continue: encodeContinue(
                resourceVersion,
                objectKey(last.metadata.namespace, last.metadata.name),
              ),
              remainingItemCount: matching.length - page.length,
            }
          : {}),
      },
      items: page,
    };
  }

  private keepSnapshot(resourceVersion: string, items: T[]): void {
    this.snapshots.set(resourceVersion, items);
    // Old snapshots are compacted away, as etcd compacts old revisions.
    for (const version of [...this.snapshots.keys()].slice(0, -SNAPSHOTS_KEPT))
      this.snapshots.delete(version);
  }
}

function encodeContinue(rv: string, start: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start }), 'utf8').toString('base64');
}

function decodeContinue(token: string): { rv: string; start: string } {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    throw new InvalidContinueToken();
  }
  const parsed = continueSchema.safeParse(decoded);
  if (!parsed.success) throw new InvalidContinueToken();
  return parsed.data;
}
