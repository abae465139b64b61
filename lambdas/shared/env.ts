import type { $ZodType, output } from 'zod/v4/core';
import { parseOrThrow, RunbookError } from './errors';

/** A setting the function was deployed with is missing or unusable: fail at cold start, before any action. */
export class InvalidSetting extends RunbookError {
  override name = 'InvalidSetting';
}

/** Reads a required environment variable once, at module scope, failing fast with its name. */
export function requiredEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '')
    throw new InvalidSetting(`environment variable ${name} is not set`);
  return value;
}

/** Reads a required environment variable holding JSON, parsed with `schema`; InvalidSetting names it. */
export function jsonEnv<T extends $ZodType>(
  name: string,
  schema: T,
  env: NodeJS.ProcessEnv = process.env,
): output<T> {
  let value: unknown;
  try {
    value = JSON.parse(requiredEnv(name, env));
  } catch (error) {
    if (error instanceof InvalidSetting) throw error;
    throw new InvalidSetting(`environment variable ${name} is not JSON: ${(error as Error).message}`);
  }
  return parseOrThrow(schema, value, `environment variable ${name}`, InvalidSetting);
}
