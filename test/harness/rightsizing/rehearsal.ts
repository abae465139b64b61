import { fileURLToPath } from 'node:url';
import { rightsizingFunctions } from '../../../lambdas/rightsizing/functions';
import { networkPlacement } from '../../../lib/config/network';
import { rightsizingRuntime } from '../../../lib/config/rightsizing';
import type { RunbooksConfig } from '../../../lib/config/schema';
import type { RehearsedRunbook } from '../rehearsal';
import { REGION } from '../simulated-account';
import { REPORT_BUCKET, rightsizingRehearsalConfig } from './peers';
import { rightsizingScenarios } from './scenarios';

/** The cost right-sizing report for `npm run rehearse -- rightsizing`, deployed as lib/rightsizing-report-runbook.ts does. */
export const rehearsedRunbook: RehearsedRunbook<RunbooksConfig> = {
  name: 'rightsizing',
  definitionPath: fileURLToPath(
    new URL('../../../state-machines/rightsizing-report.asl.json', import.meta.url),
  ),
  functions: rightsizingFunctions,
  defaultConfig: rightsizingRehearsalConfig,
  deployment(config) {
    if (!config.rightsizing) throw new Error('The configuration has no rightsizing section to rehearse.');
    const runtime = rightsizingRuntime({ settings: config.rightsizing, clusters: config.eksClusters });
    return {
      substitutions: runtime.substitutions,
      // What the construct gives every step (stepEnvironment; ENVIRONMENT_NAME the rehearsal sets itself), and
      // the workloads collector's network placement (RunbookFunction derives it from what the step reaches).
      environment: {
        REPORT_BUCKET,
        // The presigned links in Slack and in the page as in AWS (https, the bucket's regional host), not on the
        // closed loopback port vitest points every SDK at: S3 is answered in-process (SimulatedBuckets), so
        // nothing is sent there; presigning is local.
        AWS_ENDPOINT_URL_S3: `https://s3.${REGION}.amazonaws.com`,
        NETWORK_PLACEMENT: networkPlacement(config.network, rightsizingFunctions.collectWorkloads.reaches),
      },
    };
  },
  scenarios: rightsizingScenarios,
};
