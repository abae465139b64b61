import { RunbookError } from './errors';

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
