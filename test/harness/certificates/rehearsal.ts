import { fileURLToPath } from 'node:url';
import { certificateFunctions } from '../../../lambdas/certificates/functions';
import { certificateCheckRuntime } from '../../../lib/config/certificates';
import { loadConfig } from '../../../lib/config/load';
import { networkPlacement } from '../../../lib/config/network';
import { configSchema, type RunbooksConfig } from '../../../lib/config/schema';
import type { RehearsedRunbook } from '../rehearsal';
import { ACCOUNT } from '../simulated-account';
import { rehearsalEndpoints } from './endpoints';
import { certificateScenarios } from './scenarios';
import { REPORT_BUCKET } from './peers';

/**
 * The shipped example, with its endpoints replaced by the rehearsal's live TLS servers on 127.0.0.1 (each
 * reached by address, with its SNI name) and the rehearsal's CA trusted as a private CA.
 */
export function certificateRehearsalConfig(): RunbooksConfig {
  const example = loadConfig(fileURLToPath(new URL('../../../lib/config/example.yaml', import.meta.url)));
  if (!example.certificates) throw new Error('The example configuration has no certificates section.');
  return configSchema.parse({
    ...example,
    certificates: {
      ...example.certificates,
      endpoints: rehearsalEndpoints.endpoints.map((endpoint) => ({
        host: '127.0.0.1',
        port: endpoint.port,
        servername: endpoint.servername,
        alarm: endpoint.kind === 'valid',
      })),
      trustedCas: [{ name: 'Rehearsal Private CA', pem: rehearsalEndpoints.ca.cert }],
      probeTimeoutSeconds: 2,
    },
  });
}

/** The certificate check for `npm run rehearse -- certificates`, deployed as lib/certificate-check-runbook.ts does. */
export const rehearsedRunbook: RehearsedRunbook<RunbooksConfig> = {
  name: 'certificates',
  definitionPath: fileURLToPath(
    new URL('../../../state-machines/certificate-check.asl.json', import.meta.url),
  ),
  functions: certificateFunctions,
  defaultConfig: certificateRehearsalConfig,
  deployment(config) {
    if (!config.certificates) throw new Error('The configuration has no certificates section to rehearse.');
    const runtime = certificateCheckRuntime({
      environment: config.environment,
      settings: config.certificates,
      clusters: config.eksClusters,
    });
    return {
      substitutions: runtime.substitutions,
      environment: {
        ...runtime.readTriggerEnvironment,
        ...runtime.collectAwsEnvironment,
        ...runtime.collectCertManagerEnvironment,
        ...runtime.reportEnvironment,
        REPORT_BUCKET,
        ACCOUNT_ID: ACCOUNT,
        // Only the cert-manager collector reads it; the rehearsal's handlers share one process.env.
        NETWORK_PLACEMENT: networkPlacement(config.network, certificateFunctions.collectCertManager.reaches),
      },
    };
  },
  scenarios: certificateScenarios,
};
