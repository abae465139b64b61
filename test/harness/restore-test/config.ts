import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../../lib/config/load';
import { configSchema, type RunbooksConfig } from '../../../lib/config/schema';

/**
 * The shipped VPC example, as is: its restoreTests section restores an RDS instance (`orders`) from its
 * newest snapshot and an Aurora cluster (`payments`) to its latest restorable time.
 */
export function restoreTestRehearsalConfig(): RunbooksConfig {
  const example = loadConfig(fileURLToPath(new URL('../../../lib/config/example-vpc.yaml', import.meta.url)));
  if (!example.restoreTests) throw new Error('The VPC example configuration has no restoreTests section.');
  return example;
}

/**
 * The example with the other restore mode for each database: the RDS instance restored to its latest
 * restorable time, the Aurora cluster from its newest snapshot (of any kind: a manual one taken before a
 * deploy counts).
 */
export function otherRestoreModes(base: RunbooksConfig): RunbooksConfig {
  const section = base.restoreTests;
  if (!section) throw new Error('The configuration has no restoreTests section.');
  return configSchema.parse({
    ...base,
    restoreTests: {
      ...section,
      databases: section.databases.map((database) => ({
        ...database,
        restoreFrom: database.restoreFrom === 'snapshot' ? 'point-in-time' : 'snapshot',
      })),
    },
  });
}
