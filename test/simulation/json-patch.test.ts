import { describe, expect, it } from 'vitest';
import {
  applyJsonPatch,
  JsonPatchError,
  parseJsonPatch,
  type Json,
  type JsonPatchOperation,
} from '../harness/kubernetes/json-patch';

const patch = (document: Json, ...operations: JsonPatchOperation[]) => applyJsonPatch(document, operations);

describe('parseJsonPatch', () => {
  it('reads a JSON list of operations', () => {
    expect(parseJsonPatch('[{"op":"replace","path":"/a","value":1},{"op":"remove","path":"/b"}]')).toEqual([
      { op: 'replace', path: '/a', value: 1 },
      { op: 'remove', path: '/b' },
    ]);
  });

  it('answers undefined for a body that is not JSON, not a list, or holds an unknown or incomplete op', () => {
    expect(parseJsonPatch('not json')).toBeUndefined();
    expect(parseJsonPatch('{"op":"add","path":"/a","value":1}')).toBeUndefined();
    expect(parseJsonPatch('[{"op":"merge","path":"/a","value":1}]')).toBeUndefined();
    expect(parseJsonPatch('[{"op":"add","path":"/a"}]')).toBeUndefined();
    expect(parseJsonPatch('[{"op":"move","path":"/a"}]')).toBeUndefined();
  });
});

describe('applyJsonPatch', () => {
  describe('on objects', () => {
    it('adds a member, or replaces the member already there', () => {
      expect(
        patch({ a: 1 }, { op: 'add', path: '/b', value: 2 }, { op: 'add', path: '/a', value: 3 }),
      ).toEqual({
        a: 3,
        b: 2,
      });
    });

    it('replaces a member that exists and refuses to replace one that does not', () => {
      expect(patch({ a: 1 }, { op: 'replace', path: '/a', value: { b: [1] } })).toEqual({ a: { b: [1] } });
      expect(() => patch({ a: 1 }, { op: 'replace', path: '/b', value: 2 })).toThrow(
        new JsonPatchError('replace operation does not apply: doc is missing key: /b'),
      );
    });

    it('removes a member that exists and refuses to remove one that does not', () => {
      expect(patch({ a: 1, b: 2 }, { op: 'remove', path: '/a' })).toEqual({ b: 2 });
      expect(() => patch({ a: 1 }, { op: 'remove', path: '/b' })).toThrow(
        'remove operation does not apply: doc is missing path: /b',
      );
    });

    it('refuses an operation whose parent does not exist or is not a container', () => {
      expect(() => patch({ a: 1 }, { op: 'add', path: '/x/y', value: 2 })).toThrow(
        'add operation does not apply: doc is missing path: /x/y',
      );
      expect(() => patch({ a: 1 }, { op: 'add', path: '/a/y', value: 2 })).toThrow(
        'add operation does not apply: doc is missing path: /a/y',
      );
    });
  });

  describe('test', () => {
    it('passes when the value is equal, whatever the order of its keys', () => {
      const document = { spec: { a: 1, b: [1, { c: 2, d: 3 }] } };
      expect(
        patch(
          document,
          { op: 'test', path: '/spec', value: { b: [1, { d: 3, c: 2 }], a: 1 } },
          { op: 'replace', path: '/spec/a', value: 2 },
        ),
      ).toEqual({ spec: { a: 2, b: [1, { c: 2, d: 3 }] } });
    });

    it('fails the whole patch when a value differs, and the document stays as it was', () => {
      const document = { metadata: { resourceVersion: '7' }, spec: { image: 'web:1' } };
      expect(() =>
        patch(
          document,
          { op: 'replace', path: '/spec/image', value: 'web:2' },
          { op: 'test', path: '/metadata/resourceVersion', value: '6' },
        ),
      ).toThrow(new JsonPatchError('Testing value /metadata/resourceVersion failed'));
      expect(document).toEqual({ metadata: { resourceVersion: '7' }, spec: { image: 'web:1' } });
    });

    it('fails for a member that is missing, even against null', () => {
      expect(() => patch({ a: 1 }, { op: 'test', path: '/b', value: null })).toThrow(
        'test operation does not apply: is missing path: /b',
      );
    });

    it('compares array elements by index', () => {
      expect(patch([1, 2], { op: 'test', path: '/1', value: 2 })).toEqual([1, 2]);
      expect(() => patch([1, 2], { op: 'test', path: '/0', value: 2 })).toThrow('Testing value /0 failed');
    });
  });

  describe('pointers', () => {
    it('reads ~1 as / and ~0 as ~ in a reference token', () => {
      expect(
        patch(
          { annotations: {} },
          { op: 'add', path: '/annotations/app.example.com~1build', value: 'b1' },
          { op: 'add', path: '/annotations/a~0b', value: 'tilde' },
        ),
      ).toEqual({ annotations: { 'app.example.com/build': 'b1', 'a~b': 'tilde' } });
    });

    it('unescapes ~1 before ~0, so ~01 is the key ~1 and not /', () => {
      expect(patch({}, { op: 'add', path: '/~01', value: 1 })).toEqual({ '~1': 1 });
    });

    it('takes the empty pointer as the whole document', () => {
      expect(patch({ a: 1 }, { op: 'replace', path: '', value: [1] })).toEqual([1]);
      expect(patch({ a: 1 }, { op: 'test', path: '', value: { a: 1 } })).toEqual({ a: 1 });
      expect(() => patch({ a: 1 }, { op: 'test', path: '', value: { a: 2 } })).toThrow(
        'Testing value  failed',
      );
      expect(() => patch({ a: 1 }, { op: 'remove', path: '' })).toThrow(
        'remove operation does not apply: cannot remove the whole document',
      );
    });

    it('refuses a pointer that does not start with /', () => {
      expect(() => patch({ a: 1 }, { op: 'replace', path: 'a', value: 2 })).toThrow(
        'JSON pointer a does not start with /',
      );
    });
  });

  describe('on arrays', () => {
    it('appends at the - index', () => {
      expect(patch({ list: [1, 2] }, { op: 'add', path: '/list/-', value: 3 })).toEqual({ list: [1, 2, 3] });
    });

    it('inserts before the element at an index, or at the end for the length', () => {
      expect(patch([1, 3], { op: 'add', path: '/1', value: 2 })).toEqual([1, 2, 3]);
      expect(patch([1, 2], { op: 'add', path: '/2', value: 3 })).toEqual([1, 2, 3]);
    });

    it('replaces and removes the element at an index', () => {
      expect(patch([1, 2, 3], { op: 'replace', path: '/1', value: 9 })).toEqual([1, 9, 3]);
      expect(patch([1, 2, 3], { op: 'remove', path: '/0' })).toEqual([2, 3]);
    });

    it('refuses an index past the end, one that is not a number, and - for anything but add', () => {
      expect(() => patch([1], { op: 'add', path: '/2', value: 3 })).toThrow(
        'add operation does not apply: index out of range: /2',
      );
      expect(() => patch([1], { op: 'replace', path: '/1', value: 3 })).toThrow(
        'replace operation does not apply: index out of range: /1',
      );
      expect(() => patch([1], { op: 'add', path: '/x', value: 3 })).toThrow(
        'add operation does not apply: index out of range: /x',
      );
      expect(() => patch([1], { op: 'remove', path: '/-' })).toThrow(
        'remove operation does not apply: index out of range: /-',
      );
    });

    it('reaches into an element by its index', () => {
      expect(
        patch(
          { containers: [{ image: 'web:1' }] },
          { op: 'replace', path: '/containers/0/image', value: 'web:2' },
        ),
      ).toEqual({ containers: [{ image: 'web:2' }] });
    });
  });

  it('applies operations in order, each to the result of the one before', () => {
    expect(
      patch(
        {},
        { op: 'add', path: '/list', value: [] },
        { op: 'add', path: '/list/-', value: 'a' },
        { op: 'test', path: '/list/0', value: 'a' },
      ),
    ).toEqual({ list: ['a'] });
  });

  it('refuses move and copy, which it does not implement', () => {
    expect(() => patch({ a: 1 }, { op: 'move', path: '/b', from: '/a' })).toThrow(
      new JsonPatchError('the simulated API server does not implement JSON Patch op move'),
    );
    expect(() => patch({ a: 1 }, { op: 'copy', path: '/b', from: '/a' })).toThrow(JsonPatchError);
  });
});
