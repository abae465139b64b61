import { fileURLToPath } from 'node:url';
import { canaryFunctions } from '../../../lambdas/canary/functions';
import type { StepAnalysis } from '../../../lambdas/canary/run';
import { approversSchema } from '../../../lambdas/canary/approval';
import { canaryRuntime } from '../../../lib/config/canary';
import { networkPlacement } from '../../../lib/config/network';
import type { RunbooksConfig } from '../../../lib/config/schema';
import type { RehearsedRunbook } from '../rehearsal';
import { ACCOUNT } from '../simulated-account';
import { canaryRehearsalConfig, SECRETS } from './config';
import { canaryScenarios } from './scenarios';

/** The canary promotion for `npm run rehearse -- canary`, deployed as lib/canary-runbook.ts does. */
export const rehearsedRunbook: RehearsedRunbook<RunbooksConfig> = {
  name: 'canary',
  definitionPath: fileURLToPath(new URL('../../../state-machines/canary.asl.json', import.meta.url)),
  functions: canaryFunctions,
  defaultConfig: canaryRehearsalConfig,
  deployment(config) {
    if (!config.canary) throw new Error('The configuration has no canary section to rehearse.');
    const runtime = canaryRuntime({ environment: config.environment, settings: config.canary });
    const app = config.slack.app;
    const approvers = Object.fromEntries(
      config.canary.services
        .filter((service) => service.approval)
        .map((service) => [
          `${service.cluster}/${service.namespace}/${service.stableDeployment}`,
          service.approval?.approvers ?? [],
        ]),
    );
    return {
      substitutions: runtime.substitutions,
      // The union of what the construct gives each function (lib/canary-runbook.ts).
      environment: {
        ACCOUNT_ID: ACCOUNT,
        LOCK_TTL_SECONDS: String(runtime.lockTtlSeconds),
        NETWORK_PLACEMENT: networkPlacement(config.network, canaryFunctions.start.reaches),
        ...(app && {
          SLACK_BOT_TOKEN_SECRET_ID: SECRETS.botToken,
          SLACK_CHANNEL_ID: app.channelId,
          SLACK_SIGNING_SECRET_ID: SECRETS.signing,
        }),
        CANARY_APPROVERS: JSON.stringify(approversSchema.parse(approvers)),
      },
    };
  },
  scenarios: canaryScenarios,
  describeResult(serviceName, result) {
    if (serviceName === canaryFunctions.analyse.serviceName) {
      const analysis = (result as { analysis?: StepAnalysis }).analysis;
      if (!analysis) return undefined;
      const checks = analysis.checks.map(
        (check) =>
          `${check.name} ${check.status} (canary ${check.canary === undefined ? 'no data' : show(check.canary)}, stable ${check.stable === undefined ? 'no data' : show(check.stable)}; ${check.limit})`,
      );
      return `${analysis.action} — ${analysis.summary}${checks.length ? ` — ${checks.join('; ')}` : ''}`;
    }
    if (serviceName === canaryFunctions.traffic.serviceName) {
      const run = result as { weight?: number; stepIndex?: number };
      return `canary weight ${run.weight ?? '?'} %`;
    }
    if (serviceName === canaryFunctions.observe.serviceName) {
      const observed = result as { state?: string; detail?: string };
      return `${observed.state ?? '?'}: ${observed.detail ?? ''}`;
    }
    return undefined;
  },
};

const show = (value: number): string => String(Number(value.toPrecision(4)));
