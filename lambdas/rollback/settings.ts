import * as z from 'zod/mini';
import type { $ZodType, output } from 'zod/v4/core';
import { rollbackMode, rollbackTargetSchema } from '../../lib/config/rollback';
import { eksClusterSchema } from '../../lib/config/shared';
import { parseOrThrow } from '../shared/errors';
import { InvalidSetting, requiredEnv } from '../shared/env';

const jsonEnv = <T extends $ZodType>(name: string, schema: T, env: NodeJS.ProcessEnv): output<T> => {
  let raw: unknown;
  try {
    raw = JSON.parse(requiredEnv(name, env));
  } catch (error) {
    if (error instanceof SyntaxError)
      throw new InvalidSetting(`${name} is not JSON: ${error.message}`, { cause: error });
    throw error;
  }
  return parseOrThrow(schema, raw, name, InvalidSetting);
};

const positiveInt = z.pipe(
  z.string().check(z.regex(/^\d+$/, 'must be a whole number of seconds')),
  z.transform(Number),
);

/** The prepare function's settings, written by the CDK construct from the validated configuration. */
export function readPrepareSettings(env: NodeJS.ProcessEnv = process.env) {
  return {
    environment: requiredEnv('ENVIRONMENT_NAME', env),
    lockTableName: requiredEnv('LOCK_TABLE_NAME', env),
    targets: jsonEnv('ROLLBACK_TARGETS', z.array(rollbackTargetSchema), env),
    tagDiscoveryPrefixes: jsonEnv('TAG_DISCOVERY_PREFIXES', z.array(z.string().check(z.minLength(1))), env),
    clusters: jsonEnv('EKS_CLUSTERS', z.array(eksClusterSchema), env),
    cooldownSeconds: parseOrThrow(
      positiveInt,
      requiredEnv('COOLDOWN_SECONDS', env),
      'COOLDOWN_SECONDS',
      InvalidSetting,
    ),
    mode: parseOrThrow(rollbackMode, requiredEnv('MODE', env), 'MODE', InvalidSetting),
    recoveryWindowSeconds: parseOrThrow(
      positiveInt,
      requiredEnv('RECOVERY_WINDOW_SECONDS', env),
      'RECOVERY_WINDOW_SECONDS',
      InvalidSetting,
    ),
    recoveryWindowMaxSeconds: parseOrThrow(
      positiveInt,
      requiredEnv('RECOVERY_WINDOW_MAX_SECONDS', env),
      'RECOVERY_WINDOW_MAX_SECONDS',
      InvalidSetting,
    ),
    lockTtlSeconds: parseOrThrow(
      positiveInt,
      requiredEnv('LOCK_TTL_SECONDS', env),
      'LOCK_TTL_SECONDS',
      InvalidSetting,
    ),
  };
}
export type PrepareSettings = ReturnType<typeof readPrepareSettings>;
