import { fileURLToPath } from 'node:url';
import { slackSignature } from '../../../lambdas/notify/slack-signature';
import { SFNClient } from '@aws-sdk/client-sfn';
import { answerApproval } from '../../../lambdas/canary/answer-approval';
import { CanaryLock } from '../../../lambdas/workload-lock/canary-lock';
import { WorkloadLock } from '../../../lambdas/workload-lock/workload-lock';
import { canaryFunctions } from '../../../lambdas/canary/functions';
import type { RunbooksConfig } from '../../../lib/config/schema';
import { LOCK_TABLE, type Rehearsal, type Scenario } from '../rehearsal';
import { ACCOUNT, REGION } from '../simulated-account';
import { APPROVER, CLUSTER, NAMESPACE, NOT_AN_APPROVER } from './config';
import {
  arrangeService,
  CANARY_IMAGE,
  SIGNING_SECRET,
  type CanaryServiceName,
  type ServiceBehaviour,
} from './peers';

// The canary's scenarios, each a sentence of the "Done when": a healthy promotion with each router, a
// failure at the second step, a canary worse than stable under the absolute limit, no data under each policy,
// the approval granted, rejected, timed out and sent twice, a forged or stale Slack request, ALB weights late and
// never applied, the Ingress edited by hand, an alarm mid-canary, a second request while one runs, and malformed
// requests. test/workflows/canary.test.ts runs each one and asserts what it leaves behind.

type CanaryScenario = Scenario<RunbooksConfig>;

let eventCount = 0;
/** A CanaryRequested event as EventBridge delivers it (CI's put-events entry, README). */
export function canaryRequested(
  service: string,
  detail: Record<string, unknown> = {},
  envelope: Record<string, unknown> = {},
): Record<string, unknown> {
  eventCount += 1;
  return {
    version: '0',
    id: `7bf73129-1428-4cd3-a780-95db273d${String(1000 + eventCount).padStart(4, '0')}`,
    'detail-type': 'CanaryRequested',
    source: 'platform-runbooks.ci',
    account: ACCOUNT,
    time: new Date().toISOString(),
    region: REGION,
    resources: [],
    detail: {
      service,
      image: CANARY_IMAGE(service),
      requestedBy: 'github-actions:acme/shop',
      reference: '3f2c1a9e8b7d6c5f4e3a2b1c0d9e8f7a6b5c4d3e',
      ...detail,
    },
    ...envelope,
  };
}

const ERROR_FROM_SECOND_STEP: ServiceBehaviour = {
  canary: (shifts) => ({ errorRate: shifts >= 2 ? 0.2 : 0.004 }),
  stable: () => ({ errorRate: 0.004 }),
};

/** 2.4 × stable's errors, far under the 5 % limit: only the comparison with stable catches it. */
const WORSE_THAN_STABLE: ServiceBehaviour = {
  canary: () => ({ errorRate: 0.012 }),
  stable: () => ({ errorRate: 0.005 }),
};

const CANARY_SILENT: ServiceBehaviour = {
  canary: () => ({}),
  stable: () => ({ errorRate: 0.004 }),
};

/** The canary stops publishing at the second step (its metrics pipeline broke): a pause, then data again. */
const SILENT_AT_SECOND_STEP: ServiceBehaviour = {
  canary: (shifts) => (shifts === 2 ? {} : { errorRate: 0.004 }),
  stable: () => ({ errorRate: 0.004 }),
};

// --- Slack clicks ----------------------------------------------------------------------------------------

export interface ClickOptions {
  userId?: string;
  /** Seconds before now the request says it was signed. */
  ageSeconds?: number;
  /** Sign with another secret (a forged request). */
  secret?: string;
}

/** The approval endpoint's handler, imported once the rehearsal has set its environment. */
async function approvalEndpoint(): Promise<
  (event: unknown) => Promise<{ statusCode: number; body: string }>
> {
  const module = (await import(
    fileURLToPath(new URL('../../../lambdas/canary/handlers/approval-endpoint.ts', import.meta.url))
  )) as { handler: (event: unknown) => Promise<{ statusCode: number; body: string }> };
  return module.handler;
}

/** The Approve / Reject buttons of the last approval request in Slack. */
function lastButtons(rehearsal: Rehearsal<RunbooksConfig>): { ts: string; values: Record<string, string> } {
  const messages = [...rehearsal.slack.api.messages].reverse();
  for (const message of messages) {
    const blocks =
      (
        message.current as {
          blocks?: Array<{ type: string; elements?: Array<{ action_id?: string; value?: string }> }>;
        }
      ).blocks ?? [];
    const actions = blocks.find((block) => block.type === 'actions');
    if (actions?.elements) {
      return {
        ts: message.ts,
        values: Object.fromEntries(
          actions.elements.map((element) => [element.action_id ?? '', element.value ?? '']),
        ),
      };
    }
  }
  throw new Error('No approval request with buttons was posted to Slack');
}

/** A click on Approve or Reject, as Slack posts it to the function URL (signed with the app's secret). */
export async function click(
  rehearsal: Rehearsal<RunbooksConfig>,
  decision: 'approve' | 'reject',
  options: ClickOptions = {},
): Promise<{ statusCode: number; body: string }> {
  const { ts, values } = lastButtons(rehearsal);
  const actionId = `canary-${decision}`;
  const payload = {
    type: 'block_actions',
    user: { id: options.userId ?? APPROVER },
    actions: [{ action_id: actionId, value: values[actionId] }],
    channel: { id: 'C000RUNBOOKS' },
    container: { message_ts: ts, channel_id: 'C000RUNBOOKS' },
  };
  const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const timestamp = String(Math.floor(Date.now() / 1000) - (options.ageSeconds ?? 0));
  const signature = slackSignature(options.secret ?? SIGNING_SECRET, timestamp, body);
  const handler = await approvalEndpoint();
  const answer = await handler({
    version: '2.0',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': signature,
    },
    body,
    isBase64Encoded: false,
    requestContext: { http: { method: 'POST' } },
  });
  clicks.push({ decision, ...options, statusCode: answer.statusCode, body: answer.body });
  return answer;
}

/** When the alarm scenario asked for the abort, on the rehearsal's clock (epoch ms). */
export const abortRequestedAt: number[] = [];

/** Every click a scenario made, with the endpoint's answer: the workflow test asserts on them. */
export const clicks: Array<ClickOptions & { decision: string; statusCode: number; body: string }> = [];

// --- Scenarios ----------------------------------------------------------------------------------------------

/** One request for the service; the clicks recorded so far belong to another scenario. */
const request = (service: CanaryServiceName, detail: Record<string, unknown> = {}) => {
  clicks.length = 0;
  abortRequestedAt.length = 0;
  return { events: [canaryRequested(service, detail)] };
};

const healthy = (service: CanaryServiceName, router: string): CanaryScenario => ({
  name: `healthy-${router}`,
  summary: `A healthy canary of ${service} (${router} router) goes through every step and is promoted.`,
  async arrange(rehearsal) {
    arrangeService(rehearsal, service);
    return request(service);
  },
});

/**
 * A canary of payments (approval configured, no-data policy pause) whose approval requests are each answered by
 * these clicks, in order; none: nobody answers and the wait times out.
 */
const approvalScenario = (
  name: string,
  summary: string,
  answers: Array<[decision: 'approve' | 'reject', options?: ClickOptions]>,
  behaviour?: ServiceBehaviour,
): CanaryScenario => ({
  name,
  summary,
  async arrange(rehearsal) {
    arrangeService(rehearsal, 'payments', behaviour ? { behaviour } : {});
    if (answers.length > 0) {
      rehearsal.onTaskToken(async () => {
        for (const [decision, options] of answers) await click(rehearsal, decision, options);
      }, 'Slack');
    }
    return request('payments');
  },
});

export const canaryScenarios: CanaryScenario[] = [
  healthy('checkout', 'alb'),
  healthy('search', 'gateway-api'),
  healthy('worker', 'replica-ratio'),
  {
    name: 'fails-at-second-step',
    summary: 'The canary errs from the second step (20 %): the repeat fails too, and the canary is aborted.',
    async arrange(rehearsal) {
      arrangeService(rehearsal, 'search', { behaviour: ERROR_FROM_SECOND_STEP });
      return request('search');
    },
  },
  {
    name: 'worse-than-stable',
    summary:
      'The canary errs 2.4 times as often as stable, under the absolute limit: the comparison aborts it.',
    async arrange(rehearsal) {
      arrangeService(rehearsal, 'search', { behaviour: WORSE_THAN_STABLE });
      return request('search');
    },
  },
  {
    name: 'no-data-fail',
    summary:
      'The canary publishes no metrics; the policy is fail (Flagger): each analysis fails, the canary is aborted.',
    async arrange(rehearsal) {
      arrangeService(rehearsal, 'search', { behaviour: CANARY_SILENT });
      return request('search');
    },
  },
  approvalScenario(
    'no-data-pause',
    'The canary publishes nothing at the second step; the policy is pause (Argo): the approver is asked, says go on, and later approves the promotion.',
    [['approve']],
    SILENT_AT_SECOND_STEP,
  ),
  approvalScenario(
    'approval-granted',
    'Every step passes; the approver clicks Approve in Slack; the canary is promoted.',
    [['approve']],
  ),
  approvalScenario(
    'approval-rejected',
    'Every step passes; the approver clicks Reject; the canary is aborted.',
    [['reject']],
  ),
  approvalScenario(
    'approval-timed-out',
    'Nobody answers the approval within its 30 minutes: the canary is aborted.',
    [],
  ),
  approvalScenario(
    'approval-sent-twice',
    'The approver clicks Approve twice (and Slack retries): the second click does nothing.',
    [['approve'], ['approve'], ['reject']],
  ),
  approvalScenario(
    'forged-slack-request',
    'A forged click, a replayed one older than 5 minutes and one by a non-approver are refused; the real approver then approves.',
    [
      ['approve', { secret: 'not-the-signing-secret' }],
      ['approve', { ageSeconds: 6 * 60 }],
      ['approve', { userId: NOT_AN_APPROVER }],
      ['approve'],
    ],
  ),
  {
    name: 'alb-weights-late',
    summary:
      'The load balancer controller applies each weight only at the third look: every step waits for it, then counts.',
    async arrange(rehearsal) {
      arrangeService(rehearsal, 'checkout', { controller: { lag: 3 } });
      return request('checkout');
    },
  },
  {
    name: 'elb-throttled',
    summary:
      'ELBv2 throttles DescribeRules twice while a weight is being confirmed: the workflow retries the look, and the canary is promoted.',
    async arrange(rehearsal) {
      const { peers } = arrangeService(rehearsal, 'checkout');
      peers.elb.injectFault({ operation: 'DescribeRules', name: 'Throttling', times: 2 });
      return request('checkout');
    },
  },
  {
    name: 'alb-weights-never-applied',
    summary:
      'The load balancer controller never applies the first weight: the step fails clearly after 5 minutes and the canary is aborted.',
    async arrange(rehearsal) {
      arrangeService(rehearsal, 'checkout', { controller: 'never' });
      return request('checkout');
    },
  },
  {
    name: 'traffic-stuck-on-abort',
    summary:
      'The canary fails at the second step, and the load balancer controller stops applying changes: traffic cannot be confirmed back on stable, so the canary keeps its pods and on-call is paged.',
    async arrange(rehearsal) {
      const arranged = arrangeService(rehearsal, 'checkout', { behaviour: ERROR_FROM_SECOND_STEP });
      const analyse = rehearsal.handlerOf(canaryFunctions.analyse);
      return {
        ...request('checkout'),
        options: {
          overrides: {
            Analyse: async (input) => {
              const answer = (await analyse(input)) as { analysis?: { action?: string } };
              if (answer.analysis?.action === 'abort') arranged.alb_controller?.setMode('never');
              return answer;
            },
          },
        },
      };
    },
  },
  {
    name: 'promotion-stuck',
    summary:
      'Every step passes, but stable never rolls out the promoted template (its progress deadline passes): traffic stays on the canary, which serves it, and on-call is paged.',
    async arrange(rehearsal) {
      const { peers } = arrangeService(rehearsal, 'search');
      // The next rollout of stable (the promotion's) never becomes available.
      peers.api.setRollout(NAMESPACE, 'search', { kind: 'deadline-exceeded', afterReads: 3 });
      return request('search');
    },
  },
  {
    name: 'ingress-edited-by-hand',
    summary:
      'Someone edits the Ingress weights by hand after the first analysis: the runbook does not overwrite them, it aborts.',
    async arrange(rehearsal) {
      const { peers } = arrangeService(rehearsal, 'checkout');
      const analyse = rehearsal.handlerOf(canaryFunctions.analyse);
      let analyses = 0;
      return {
        ...request('checkout'),
        options: {
          overrides: {
            Analyse: async (input) => {
              const answer = await analyse(input);
              analyses += 1;
              if (analyses === 1) {
                peers.api.editIngress(NAMESPACE, 'shop', (ingress) => {
                  const key = 'alb.ingress.kubernetes.io/actions.checkout-split';
                  const annotations = ingress.metadata.annotations ?? {};
                  const action = JSON.parse(annotations[key] ?? '{}') as {
                    forwardConfig: { targetGroups: Array<{ weight?: number }> };
                  };
                  const [stable, canary] = action.forwardConfig.targetGroups;
                  if (stable && canary) {
                    stable.weight = 50;
                    canary.weight = 50;
                  }
                  ingress.metadata.annotations = { ...annotations, [key]: JSON.stringify(action) };
                });
              }
              return answer;
            },
          },
        },
      };
    },
  },
  {
    name: 'alarm-mid-canary',
    summary:
      "The service's alarm fires two minutes into the second step: the rollback runbook asks the canary to abort instead of undoing on top of it, and the canary aborts within a minute, not at the end of the interval.",
    async arrange(rehearsal) {
      arrangeService(rehearsal, 'search');
      const analyse = rehearsal.handlerOf(canaryFunctions.analyse);
      const lock = new WorkloadLock(rehearsal.account.dynamodb, LOCK_TABLE);
      let analyses = 0;
      let readsSinceFirstAnalysis = 0;
      return {
        ...request('search'),
        options: {
          overrides: {
            Analyse: async (input) => {
              analyses += 1;
              return analyse(input);
            },
            ReadAbortRequest: async (input) => {
              if (analyses === 1) {
                readsSinceFirstAnalysis += 1;
                if (readsSinceFirstAnalysis === 2) {
                  // What the rollback's prepare does when it meets the canary's lock (lambdas/rollback/prepare.ts).
                  await lock.requestCanaryAbort(`${CLUSTER}/${NAMESPACE}/search`, {
                    alarmName: 'search-5xx-rate',
                    executionId: `arn:aws:states:${REGION}:${ACCOUNT}:execution:platform-runbooks-rehearsal-rollback:alarm-1`,
                    at: new Date(),
                  });
                  abortRequestedAt.push(Date.now());
                }
              }
              return rehearsal.account.serviceIntegration('arn:aws:states:::dynamodb:getItem', input);
            },
          },
        },
      };
    },
  },
  {
    name: 'alarm-during-approval',
    summary:
      "The service's alarm fires while the canary waits for its promotion approval: the rollback asks for the abort and rejects the approval, so the canary aborts now, not when a person answers.",
    async arrange(rehearsal) {
      arrangeService(rehearsal, 'payments');
      const workload = `${CLUSTER}/${NAMESPACE}/payments`;
      const rollback = `arn:aws:states:${REGION}:${ACCOUNT}:execution:platform-runbooks-rehearsal-rollback:alarm-2`;
      rehearsal.onTaskToken(async ({ executionArn }) => {
        // What the rollback's prepare does when it meets a canary that waits (lambdas/rollback/handlers/prepare.ts).
        const lock = new WorkloadLock(rehearsal.account.dynamodb, LOCK_TABLE);
        await lock.requestCanaryAbort(workload, {
          alarmName: 'payments-5xx-rate',
          executionId: rollback,
          at: new Date(),
        });
        await answerApproval({
          lock: new CanaryLock(rehearsal.account.dynamodb, LOCK_TABLE),
          sfn: new SFNClient({ region: REGION }),
          workload,
          decision: 'reject',
          by: `rollback ${rollback} (alarm "payments-5xx-rate")`,
          at: new Date(),
          executionArn,
        });
      }, 'the rollback runbook');
      return request('payments');
    },
  },
  {
    name: 'alarm-before-approval',
    summary:
      'The alarm fires just after the last analysis passed, before the approvers are asked: nobody is asked, the canary aborts.',
    async arrange(rehearsal) {
      arrangeService(rehearsal, 'payments');
      const analyse = rehearsal.handlerOf(canaryFunctions.analyse);
      const lock = new WorkloadLock(rehearsal.account.dynamodb, LOCK_TABLE);
      return {
        ...request('payments'),
        options: {
          overrides: {
            Analyse: async (input) => {
              const answer = (await analyse(input)) as { analysis?: { action?: string } };
              if (answer.analysis?.action === 'approve') {
                await lock.requestCanaryAbort(`${CLUSTER}/${NAMESPACE}/payments`, {
                  alarmName: 'payments-5xx-rate',
                  executionId: `arn:aws:states:${REGION}:${ACCOUNT}:execution:platform-runbooks-rehearsal-rollback:alarm-3`,
                  at: new Date(),
                });
              }
              return answer;
            },
          },
        },
      };
    },
  },
  {
    name: 'second-request-while-running',
    summary:
      'CI sends a second CanaryRequested for checkout while the first runs: it is refused clearly and changes nothing.',
    async arrange(rehearsal) {
      arrangeService(rehearsal, 'checkout');
      return {
        events: [
          canaryRequested('checkout'),
          canaryRequested('checkout', { image: 'registry.example.com/checkout:1.2.0' }),
        ],
        concurrent: true,
      };
    },
  },
  {
    name: 'malformed-requests',
    summary:
      'Requests with neither image nor patch, an unknown service, a latest tag, another account: each refused naming the field, nothing changed.',
    async arrange(rehearsal) {
      arrangeService(rehearsal, 'checkout');
      return {
        events: [
          canaryRequested('checkout', { image: undefined }),
          canaryRequested('inventory'),
          canaryRequested('checkout', { image: 'registry.example.com/checkout:latest' }),
          canaryRequested('checkout', {}, { account: '999999999999' }),
        ],
      };
    },
  },
];
