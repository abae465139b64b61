import { fileURLToPath } from 'node:url';
import { rollbackFunctions } from '../../../lambdas/rollback/functions';
import { loadConfig } from '../../../lib/config/load';
import { networkPlacement } from '../../../lib/config/network';
import { rollbackRuntime } from '../../../lib/config/rollback';
import type { RunbooksConfig } from '../../../lib/config/schema';
import type { RehearsedRunbook } from '../rehearsal';
import { ACCOUNT } from '../simulated-account';
import { rollbackScenarios } from './scenarios';

/** The rollback runbook for `npm run rehearse -- rollback`, deployed as `lib/rollback-runbook.ts` does. */
export const rehearsedRunbook: RehearsedRunbook<RunbooksConfig> = {
  name: 'rollback',
  definitionPath: fileURLToPath(new URL('../../../state-machines/rollback.asl.json', import.meta.url)),
  functions: rollbackFunctions,
  defaultConfig: () =>
    loadConfig(fileURLToPath(new URL('../../../lib/config/example.yaml', import.meta.url))),
  deployment(config) {
    if (!config.rollback) throw new Error('The configuration has no rollback section to rehearse.');
    const runtime = rollbackRuntime({
      environment: config.environment,
      settings: config.rollback,
      clusters: config.eksClusters,
    });
    return {
      substitutions: runtime.substitutions,
      environment: {
        ...runtime.prepareEnvironment,
        // As the stack places them: the rehearsal's handlers share one process.env, and the three Kubernetes
        // functions (prepare, undo, rollout-status) reach no internet, so one placement holds for all three.
        NETWORK_PLACEMENT: networkPlacement(config.network, rollbackFunctions.prepare.reaches),
        // The stack's own account, as lib/rollback-runbook.ts passes it.
        ACCOUNT_ID: ACCOUNT,
      },
    };
  },
  scenarios: rollbackScenarios,
};
