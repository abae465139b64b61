// Label selectors: the text of a list's labelSelector parameter, read as the API server's labels.Parse reads it,
// and the structured spec.selector of a Deployment, both reduced to requirements that a label set matches.

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{
    key: string;
    operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    values?: string[];
  }>;
}

export interface Requirement {
  key: string;
  operator: 'in' | 'notin' | 'exists' | 'doesnotexist' | '=' | '!=';
  values: string[];
}

/** A selector text the API server would refuse (400 Bad Request). */
export class LabelSelectorSyntaxError extends Error {}

const KEY = String.raw`[A-Za-z0-9](?:[A-Za-z0-9._/-]*[A-Za-z0-9])?`;
const VALUE = String.raw`(?:[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)?`;
const VALUE_PATTERN = new RegExp(`^${VALUE}$`);
const SET_PATTERN = new RegExp(String.raw`^(${KEY})\s+(in|notin)\s+\(([^)]*)\)$`);
const EQUALITY_PATTERN = new RegExp(String.raw`^(${KEY})\s*(==|=|!=)\s*(${VALUE})$`);
const EXISTS_PATTERN = new RegExp(String.raw`^(!?)\s*(${KEY})$`);

const OPERATORS = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: 'doesnotexist' } as const;

/** The requirements of a selector text, e.g. `app=web,tier in (a,b),!canary`; empty text selects everything. */
export function parseSelector(text: string): Requirement[] {
  if (text.trim() === '') return [];
  return splitRequirements(text).map((raw) => {
    const part = raw.trim();
    const set = SET_PATTERN.exec(part);
    if (set) {
      const values = (set[3] ?? '').split(',').map((value) => value.trim());
      if (values.some((value) => !VALUE_PATTERN.test(value)) || values.join('') === '') {
        throw new LabelSelectorSyntaxError(
          `unable to parse requirement: values set for "${set[2]}" is invalid: ${part}`,
        );
      }
      return { key: set[1] ?? '', operator: set[2] === 'in' ? 'in' : 'notin', values };
    }
    const equality = EQUALITY_PATTERN.exec(part);
    if (equality) {
      return {
        key: equality[1] ?? '',
        operator: equality[2] === '!=' ? '!=' : '=',
        values: [equality[3] ?? ''],
      };
    }
    const exists = EXISTS_PATTERN.exec(part);
    if (exists) return { key: exists[2] ?? '', operator: exists[1] ? 'doesnotexist' : 'exists', values: [] };
    throw new LabelSelectorSyntaxError(`unable to parse requirement: found '${part}'`);
  });
}

/** Splits at the commas between requirements, not those inside a `(…)` value set. */
function splitRequirements(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (char === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts;
}

/** The requirements of a structured selector: its matchLabels, then its matchExpressions. */
export function requirementsOf(selector: LabelSelector): Requirement[] {
  const requirements: Requirement[] = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => ({
    key,
    operator: '=',
    values: [value],
  }));
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    requirements.push({ key, operator: OPERATORS[operator], values });
  }
  return requirements;
}

/** Whether `labels` meets every requirement; a missing label meets only `!=`, `notin` and `!key`. */
export function selectorMatches(requirements: Requirement[], labels: Record<string, string>): boolean {
  return requirements.every(({ key, operator, values }) => {
    const value = labels[key];
    switch (operator) {
      case '=':
        return value !== undefined && value === values[0];
      case '!=':
        return value !== values[0];
      case 'in':
        return value !== undefined && values.includes(value);
      case 'notin':
        return value === undefined || !values.includes(value);
      case 'exists':
        return value !== undefined;
      case 'doesnotexist':
        return value === undefined;
    }
  });
}
