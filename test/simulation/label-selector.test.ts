import { describe, expect, it } from 'vitest';
import {
  LabelSelectorSyntaxError,
  parseSelector,
  requirementsOf,
  selectorMatches,
} from '../harness/kubernetes/label-selector';

const matches = (selector: string, labels: Record<string, string>) =>
  selectorMatches(parseSelector(selector), labels);

describe('parseSelector', () => {
  it('reads equality requirements, with =, == and !=', () => {
    expect(parseSelector('app=web, tier == front,track!=canary')).toEqual([
      { key: 'app', operator: '=', values: ['web'] },
      { key: 'tier', operator: '=', values: ['front'] },
      { key: 'track', operator: '!=', values: ['canary'] },
    ]);
  });

  it('reads set requirements, keeping the commas inside the parentheses', () => {
    expect(parseSelector('app in (web, api),track notin (canary),tier')).toEqual([
      { key: 'app', operator: 'in', values: ['web', 'api'] },
      { key: 'track', operator: 'notin', values: ['canary'] },
      { key: 'tier', operator: 'exists', values: [] },
    ]);
  });

  it('reads !key as the label being absent', () => {
    expect(parseSelector('!canary, ! legacy')).toEqual([
      { key: 'canary', operator: 'doesnotexist', values: [] },
      { key: 'legacy', operator: 'doesnotexist', values: [] },
    ]);
  });

  it('reads prefixed keys and an empty value', () => {
    expect(parseSelector('app.kubernetes.io/name=web,track=')).toEqual([
      { key: 'app.kubernetes.io/name', operator: '=', values: ['web'] },
      { key: 'track', operator: '=', values: [''] },
    ]);
  });

  it('reads empty text as no requirements', () => {
    expect(parseSelector('  ')).toEqual([]);
  });

  it('refuses an empty value set and a value set holding an invalid value', () => {
    expect(() => parseSelector('app in ()')).toThrow(
      new LabelSelectorSyntaxError('unable to parse requirement: values set for "in" is invalid: app in ()'),
    );
    expect(() => parseSelector('app notin (web!)')).toThrow(
      'unable to parse requirement: values set for "notin" is invalid: app notin (web!)',
    );
  });

  it('refuses a requirement it cannot read, naming it', () => {
    expect(() => parseSelector('app=web,app web')).toThrow(
      new LabelSelectorSyntaxError("unable to parse requirement: found 'app web'"),
    );
    expect(() => parseSelector('app=-web')).toThrow(LabelSelectorSyntaxError);
  });
});

describe('selectorMatches', () => {
  it('matches what every requirement matches, and nothing else', () => {
    expect(matches('app=web,tier=front', { app: 'web', tier: 'front', extra: 'x' })).toBe(true);
    expect(matches('app=web,tier=front', { app: 'web', tier: 'back' })).toBe(false);
  });

  it('matches = only when the label is present with that value', () => {
    expect(matches('app=web', { app: 'web' })).toBe(true);
    expect(matches('app=web', { app: 'api' })).toBe(false);
    expect(matches('track=', {})).toBe(false);
  });

  it('matches != when the label differs or is absent', () => {
    expect(matches('track!=canary', { track: 'stable' })).toBe(true);
    expect(matches('track!=canary', {})).toBe(true);
    expect(matches('track!=canary', { track: 'canary' })).toBe(false);
  });

  it('matches in only for a present label with one of the values', () => {
    expect(matches('app in (web,api)', { app: 'api' })).toBe(true);
    expect(matches('app in (web,api)', { app: 'db' })).toBe(false);
    expect(matches('app in (web,api)', {})).toBe(false);
  });

  it('matches notin for a label with none of the values, or none at all', () => {
    expect(matches('track notin (canary,beta)', { track: 'stable' })).toBe(true);
    expect(matches('track notin (canary,beta)', {})).toBe(true);
    expect(matches('track notin (canary,beta)', { track: 'beta' })).toBe(false);
  });

  it('matches key when the label exists, whatever its value, and !key when it does not', () => {
    expect(matches('canary', { canary: '' })).toBe(true);
    expect(matches('canary', {})).toBe(false);
    expect(matches('!canary', {})).toBe(true);
    expect(matches('!canary', { canary: 'true' })).toBe(false);
  });

  it('matches everything with no requirements', () => {
    expect(matches('', {})).toBe(true);
    expect(matches('', { app: 'web' })).toBe(true);
  });
});

describe('requirementsOf', () => {
  it('makes matchLabels equalities and matchExpressions set and existence requirements', () => {
    const requirements = requirementsOf({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['front', 'edge'] },
        { key: 'track', operator: 'NotIn', values: ['canary'] },
        { key: 'team', operator: 'Exists' },
        { key: 'legacy', operator: 'DoesNotExist' },
      ],
    });
    expect(requirements).toEqual([
      { key: 'app', operator: '=', values: ['web'] },
      { key: 'tier', operator: 'in', values: ['front', 'edge'] },
      { key: 'track', operator: 'notin', values: ['canary'] },
      { key: 'team', operator: 'exists', values: [] },
      { key: 'legacy', operator: 'doesnotexist', values: [] },
    ]);
    expect(selectorMatches(requirements, { app: 'web', tier: 'edge', team: 'a' })).toBe(true);
    expect(selectorMatches(requirements, { app: 'web', tier: 'edge', team: 'a', legacy: 'y' })).toBe(false);
  });

  it('makes an empty selector match every label set', () => {
    expect(selectorMatches(requirementsOf({}), { app: 'anything' })).toBe(true);
  });
});
