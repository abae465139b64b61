import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { restoreTestFunctions } from '../../../lambdas/restore-test/functions';
import { restoreTestRuntime } from '../../../lib/config/restore-tests';
import type { RunbooksConfig } from '../../../lib/config/schema';
import type { RehearsedRunbook } from '../rehearsal';
import { restoreTestRehearsalConfig } from './config';
import { rehearsalCa } from './databases';
import { DB_SECURITY_GROUP_ID, REPORT_BUCKET, dbSubnetGroupName } from './peers';
import { restoreTestScenarios } from './scenarios';

/** Where the rehearsal's CA bundle is written, once per process (the handlers read it once, at import). */
let caBundle: string | undefined;
function caBundlePath(): string {
  if (caBundle === undefined) {
    const directory = mkdtempSync(join(tmpdir(), 'restore-test-rehearsal-'));
    process.once('exit', () => rmSync(directory, { recursive: true, force: true }));
    caBundle = join(directory, 'rds-ca-bundle.pem');
    writeFileSync(caBundle, rehearsalCa.cert);
  }
  return caBundle;
}

/** The backup-restore test for `npm run rehearse -- restore-test`, deployed as lib/restore-test-runbook.ts does. */
export const rehearsedRunbook: RehearsedRunbook<RunbooksConfig> = {
  name: 'restore-test',
  definitionPath: fileURLToPath(new URL('../../../state-machines/restore-test.asl.json', import.meta.url)),
  functions: restoreTestFunctions,
  defaultConfig: restoreTestRehearsalConfig,
  deployment(config) {
    if (!config.restoreTests) throw new Error('The configuration has no restoreTests section to rehearse.');
    const runtime = restoreTestRuntime({ environment: config.environment, settings: config.restoreTests });
    return {
      substitutions: runtime.substitutions,
      // The handlers share one process.env: the union of what the construct gives each function.
      environment: {
        ...runtime.janitorEnvironment,
        REPORT_BUCKET,
        DB_SUBNET_GROUP_NAME: dbSubnetGroupName(config.environment),
        DB_SECURITY_GROUP_ID,
        // The rehearsal's CA stands in for the RDS CAs of the runtime's bundle.
        CA_BUNDLE_PATH: caBundlePath(),
      },
    };
  },
  scenarios: restoreTestScenarios,
};
