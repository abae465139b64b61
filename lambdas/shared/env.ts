/** Thrown at cold start when the function is deployed without a setting it needs. */
export class MissingSetting extends Error {
  override name = 'MissingSetting';
}

/** A setting the function was deployed with is unusable: fail at cold start, before any action. */
export class InvalidSetting extends Error {
  override name = 'InvalidSetting';
}

/** Reads a required environment variable once, at module scope, failing fast with its name. */
export function requiredEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '')
    throw new MissingSetting(`environment variable ${name} is not set`);
  return value;
}
