import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { $ZodIssue } from 'zod/v4/core';
import { ConfigError } from './errors';
import { configSchema, type RunbooksConfig } from './schema';

export { ConfigError };

/** Validates an already-parsed configuration object; `source` names it in errors. */
export function parseConfig(raw: unknown, source: string): RunbooksConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  - ${formatPath(issue.path)}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration in ${source}:\n${problems.join('\n')}`);
  }
  return result.data;
}

/** Reads and validates a YAML (or JSON) configuration file. */
export function loadConfig(path: string): RunbooksConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`Cannot read configuration file ${path}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new ConfigError(`Configuration file ${path} is not valid YAML: ${(error as Error).message}`);
  }
  return parseConfig(raw, path);
}

function formatPath(path: $ZodIssue['path']): string {
  if (path.length === 0) return '(root)';
  return path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    '',
  );
}
