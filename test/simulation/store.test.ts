import { describe, expect, it } from 'vitest';
import {
  ExpiredContinueToken,
  InvalidContinueToken,
  ObjectStore,
  ResourceVersionClock,
  SNAPSHOTS_KEPT,
  type ListOptions,
} from '../harness/kubernetes/store';

interface Thing {
  metadata: { namespace: string; name: string; resourceVersion: string; labels?: Record<string, string> };
  data?: string;
}

const thing = (namespace: string, name: string, data?: string): Thing => ({
  metadata: { namespace, name, resourceVersion: '' },
  ...(data === undefined ? {} : { data }),
});

function storeWith(...names: string[]): ObjectStore<Thing> {
  const store = new ObjectStore<Thing>(new ResourceVersionClock());
  for (const name of names) store.put(thing('shop', name));
  return store;
}

const everything = (namespace = 'shop'): ListOptions<Thing> => ({ namespace, limit: 0, matches: () => true });
const namesOf = (items: Thing[]) => items.map((item) => item.metadata.name);

describe('ResourceVersionClock', () => {
  it('stamps each object with the next resourceVersion, from 1001', () => {
    const clock = new ResourceVersionClock();
    const [a, b] = [thing('shop', 'a'), thing('shop', 'b')];
    expect(clock.current).toBe('1000');
    clock.stamp(a);
    clock.stamp(b);
    expect([a.metadata.resourceVersion, b.metadata.resourceVersion, clock.current]).toEqual([
      '1001',
      '1002',
      '1002',
    ]);
  });

  it('ticks without an object, for a write that leaves none', () => {
    const clock = new ResourceVersionClock();
    clock.tick();
    expect(clock.current).toBe('1001');
  });
});

describe('ObjectStore', () => {
  it('shares one resourceVersion sequence between the stores of different kinds', () => {
    const clock = new ResourceVersionClock();
    const deployments = new ObjectStore<Thing>(clock);
    const services = new ObjectStore<Thing>(clock);
    deployments.put(thing('shop', 'web'));
    services.put(thing('shop', 'web'));
    expect(deployments.get('shop', 'web')?.metadata.resourceVersion).toBe('1001');
    expect(services.get('shop', 'web')?.metadata.resourceVersion).toBe('1002');
  });

  it('keys objects by namespace and name, a put replacing the object there', () => {
    const store = storeWith('web');
    store.put(thing('other', 'web', 'other namespace'));
    store.put(thing('shop', 'web', 'second'));
    expect(store.get('shop', 'web')).toEqual({
      metadata: { namespace: 'shop', name: 'web', resourceVersion: '1003' },
      data: 'second',
    });
    expect(store.get('other', 'web')?.data).toBe('other namespace');
    expect(store.get('shop', 'api')).toBeUndefined();
  });

  it('stamps an object changed in place when touched', () => {
    const store = storeWith('web');
    const stored = store.get('shop', 'web');
    if (!stored) throw new Error('expected web');
    stored.data = 'changed';
    store.touch(stored);
    expect(store.get('shop', 'web')).toMatchObject({
      metadata: { resourceVersion: '1002' },
      data: 'changed',
    });
  });

  it('deletes without taking a resourceVersion, leaving that to the caller', () => {
    const clock = new ResourceVersionClock();
    const store = new ObjectStore<Thing>(clock);
    store.put(thing('shop', 'web'));
    store.delete('shop', 'web');
    expect(store.get('shop', 'web')).toBeUndefined();
    expect(clock.current).toBe('1001');
  });

  it('lists all objects in the order first stored, and forgets them on clear while the clock runs on', () => {
    const clock = new ResourceVersionClock();
    const store = new ObjectStore<Thing>(clock);
    for (const name of ['c', 'a', 'b']) store.put(thing('shop', name));
    store.put(thing('shop', 'c', 'again'));
    expect(namesOf(store.all())).toEqual(['c', 'a', 'b']);
    store.clear();
    expect(store.all()).toEqual([]);
    store.put(thing('shop', 'a'));
    expect(store.get('shop', 'a')?.metadata.resourceVersion).toBe('1005');
  });

  describe('list', () => {
    it("lists the namespace's matching objects in key order, at the current resourceVersion", () => {
      const store = storeWith('web-2', 'api', 'web-1');
      store.put(thing('other', 'web-0'));
      const list = store.list({ ...everything(), matches: (item) => item.metadata.name.startsWith('web') });
      expect(namesOf(list.items)).toEqual(['web-1', 'web-2']);
      expect(list.metadata).toEqual({ resourceVersion: '1004' });
    });

    it('answers copies, so a later change to a stored object does not reach a list already answered', () => {
      const store = storeWith('web');
      const list = store.list(everything());
      const stored = store.get('shop', 'web');
      if (!stored) throw new Error('expected web');
      stored.data = 'changed';
      expect(list.items[0]?.data).toBeUndefined();
    });

    it('pages by limit, with a continue token and the count of items left, until the last page', () => {
      const store = storeWith('a', 'b', 'c', 'd', 'e');
      const first = store.list({ ...everything(), limit: 2 });
      expect(namesOf(first.items)).toEqual(['a', 'b']);
      expect(first.metadata).toMatchObject({ resourceVersion: '1005', remainingItemCount: 3 });
      const second = store.list({ ...everything(), limit: 2, continueToken: first.metadata.continue });
      expect(namesOf(second.items)).toEqual(['c', 'd']);
      expect(second.metadata.remainingItemCount).toBe(1);
      const last = store.list({ ...everything(), limit: 2, continueToken: second.metadata.continue });
      expect(namesOf(last.items)).toEqual(['e']);
      expect(last.metadata).toEqual({ resourceVersion: '1005' });
    });

    it('gives no continue token when the limit holds every matching object', () => {
      const store = storeWith('a', 'b');
      expect(store.list({ ...everything(), limit: 2 }).metadata).toEqual({ resourceVersion: '1002' });
    });

    it('serves continue pages from the first page’s snapshot, whatever has changed since', () => {
      const store = storeWith('a', 'b', 'c');
      const first = store.list({ ...everything(), limit: 1 });
      store.put(thing('shop', 'b', 'changed'));
      store.delete('shop', 'c');
      store.put(thing('shop', 'bb'));
      const rest = store.list({ ...everything(), continueToken: first.metadata.continue });
      expect(namesOf(rest.items)).toEqual(['b', 'c']);
      expect(rest.items[0]?.data).toBeUndefined();
      expect(rest.metadata.resourceVersion).toBe('1003');
      expect(namesOf(store.list(everything()).items)).toEqual(['a', 'b', 'bb']);
    });

    it('refuses a continue token whose snapshot has been compacted away', () => {
      const store = storeWith('a', 'b');
      const stale = store.list({ ...everything(), limit: 1 });
      for (let write = 0; write < SNAPSHOTS_KEPT; write += 1) {
        store.put(thing('shop', `new-${write}`));
        store.list({ ...everything(), limit: 1 });
      }
      expect(() => store.list({ ...everything(), continueToken: stale.metadata.continue })).toThrow(
        ExpiredContinueToken,
      );
    });

    it('keeps the newest snapshots through compaction', () => {
      const store = storeWith('a', 'b');
      const pages = [];
      for (let write = 0; write < SNAPSHOTS_KEPT; write += 1) {
        store.put(thing('shop', `new-${write}`));
        pages.push(store.list({ ...everything(), limit: 1 }));
      }
      const oldestKept = pages[0]?.metadata.continue;
      expect(namesOf(store.list({ ...everything(), limit: 1, continueToken: oldestKept }).items)).toEqual([
        'b',
      ]);
    });

    it('refuses a continue token once the store has been cleared', () => {
      const store = storeWith('a', 'b');
      const first = store.list({ ...everything(), limit: 1 });
      store.clear();
      expect(() => store.list({ ...everything(), continueToken: first.metadata.continue })).toThrow(
        new ExpiredContinueToken().message,
      );
    });

    it('refuses a continue token that does not decode', () => {
      const store = storeWith('a');
      const notJson = Buffer.from('not json').toString('base64');
      const missingStart = Buffer.from(JSON.stringify({ rv: '1001' })).toString('base64');
      for (const continueToken of [notJson, missingStart]) {
        expect(() => store.list({ ...everything(), continueToken })).toThrow(InvalidContinueToken);
      }
      expect(() => store.list({ ...everything(), continueToken: notJson })).toThrow(
        'continue key is not valid: incorrect encoded start resourceVersion',
      );
    });

    it('takes an empty continue token as a first page', () => {
      const store = storeWith('a', 'b');
      expect(namesOf(store.list({ ...everything(), continueToken: '' }).items)).toEqual(['a', 'b']);
    });
  });
});
