import { rollbackFunctions } from '../../../lambdas/rollback/functions';
import { readPrepareSettings } from '../../../lambdas/rollback/settings';
import { TARGET_TAG } from '../../../lambdas/rollback/target';
import { parseConfig } from '../../../lib/config/load';
import type { RunbooksConfig } from '../../../lib/config/schema';
import { LOCK_TABLE, type Rehearsal, type Scenario, type ScenarioPlan } from '../rehearsal';
import { ACCOUNT, REGION } from '../simulated-account';
import { alarmEvent, CHECKOUT, healthyCheckout, one } from './fixtures';
import { kubernetesErrorScenarios } from './kubernetes-error-scenarios';

export { alarmEvent, CHECKOUT };

type RollbackRehearsal = Rehearsal<RunbooksConfig>;

/** Where the private-cluster scenario deploys the runbooks: the cluster's VPC, two private subnets with a NAT route. */
export const PRIVATE_NETWORK = {
  vpcId: 'vpc-0123456789abcdef0',
  subnets: [
    { id: 'subnet-0123456789abcdef0', availabilityZone: 'eu-west-1a', routeTableId: 'rtb-0123456789abcdef0' },
    { id: 'subnet-0fedcba9876543210', availabilityZone: 'eu-west-1b', routeTableId: 'rtb-0fedcba9876543210' },
  ],
} as const;

/** The canary run that holds checkout-api's lock in the canary-in-progress scenario. */
/** The task token a canary's approval wait was given (an opaque string, as Step Functions mints). */
export const CANARY_APPROVAL_TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAcanaryApprovalToken0000000000000000000';
export const CANARY_EXECUTION =
  'arn:aws:states:eu-west-1:111122223333:execution:platform-runbooks-canary:release-42';

/** What `aws eks update-cluster-config --resources-vpc-config endpointPublicAccess=false,…` leaves. */
const PRIVATE_ONLY = { endpointPublicAccess: false, endpointPrivateAccess: true };

/** The error Lambda's client reports when the function ran but its answer was lost on the way back. */
function lostAnswer(): Error {
  const error = new Error('Unable to read the Lambda response (simulated)');
  error.name = 'Lambda.SdkClientException';
  return error;
}

/** The address range a restricted public endpoint admits (TEST-NET-3, RFC 5737): no Lambda outside a VPC has it. */
export const OFFICE_CIDR = '203.0.113.0/24';

/** The example configuration with the runbooks in the cluster's VPC, validated as `cdk synth` would. */
function inClusterVpc(base: RunbooksConfig): RunbooksConfig {
  return parseConfig(
    {
      ...base,
      network: PRIVATE_NETWORK,
      eksClusters: base.eksClusters.map((cluster) =>
        cluster.name === CHECKOUT.cluster ? { ...cluster, securityGroupId: 'sg-0a1b2c3d4e5f67890' } : cluster,
      ),
    },
    'the private-cluster scenario',
  );
}

/** payments-worker, rolled back by an alarm that only its runbooks:rollback-target tag maps. */
async function tagMappedWorker(rehearsal: RollbackRehearsal): Promise<ScenarioPlan> {
  rehearsal.cluster().addDeployment({
    namespace: 'payments',
    name: 'payments-worker',
    revisions: [
      { image: 'registry.example.com/payments-worker:2.0.0' },
      { image: 'registry.example.com/payments-worker:2.1.0' },
    ],
  });
  rehearsal.cluster().setRollout('payments', 'payments-worker', { kind: 'completes-after', reads: 1 });
  rehearsal.account.addAlarm({
    name: 'rollback-payments-worker-latency',
    tags: { [TARGET_TAG]: 'prod-eks/payments/payments-worker' },
    // Prepare's read of its current state, then one recovery poll.
    transition: { to: 'OK', afterReads: 2 },
  });
  return one('rollback-payments-worker-latency');
}

export const rollbackScenarios: Array<Scenario<RunbooksConfig>> = [
  {
    name: 'healthy',
    summary: 'The alarm fires, 1.5.0 is rolled back to 1.4.2, the rollout completes and the alarm recovers.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      return one();
    },
  },
  {
    name: 'no-recovery',
    summary:
      'The rollback completes but the alarm stays in ALARM through the recovery window: on-call is paged.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal, null);
      return one();
    },
  },
  {
    name: 'rollout-deadline-exceeded',
    summary: 'The rolled-back pods never become available (ProgressDeadlineExceeded): on-call is paged.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      rehearsal
        .cluster()
        .setRollout(CHECKOUT.namespace, CHECKOUT.deployment, { kind: 'deadline-exceeded', afterReads: 1 });
      return one();
    },
  },
  {
    name: 'alarm-deleted',
    summary: 'The alarm is deleted while the rollback runs: recovery can never be seen, so on-call is paged.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      // Prepare still reads it; it is gone by the first recovery poll.
      rehearsal.account.addAlarm({ name: CHECKOUT.alarm, transition: { to: 'DELETED', afterReads: 2 } });
      return one();
    },
  },
  {
    name: 'tag-mapped',
    summary:
      'An alarm not in the configuration but tagged runbooks:rollback-target rolls back payments-worker.',
    arrange: tagMappedWorker,
  },
  {
    name: 'cloudwatch-throttled',
    summary:
      'CloudWatch throttles the tag lookup of a tag-mapped alarm once: Prepare is retried and the rollback goes ahead.',
    async arrange(rehearsal) {
      const plan = await tagMappedWorker(rehearsal);
      rehearsal.account.injectFault({
        service: 'cloudwatch',
        operation: 'ListTagsForResource',
        name: 'Throttling',
        fault: 'client',
      });
      return plan;
    },
  },
  {
    name: 'unmapped-alarm',
    summary: 'An alarm with a discovery prefix but no target tag: reported, nothing touched.',
    async arrange(rehearsal) {
      rehearsal.account.addAlarm({ name: 'rollback-orphan-alarm' });
      return one('rollback-orphan-alarm');
    },
  },
  {
    name: 'target-not-permitted',
    summary: 'A tag points at a namespace the runbook was not granted: reported, nothing touched.',
    async arrange(rehearsal) {
      rehearsal.account.addAlarm({
        name: 'rollback-kube-system-dns',
        tags: { [TARGET_TAG]: 'prod-eks/kube-system/coredns' },
      });
      return one('rollback-kube-system-dns');
    },
  },
  {
    name: 'deployment-missing',
    summary: 'The mapped Deployment does not exist (renamed or deleted): reported, nothing touched.',
    async arrange(rehearsal) {
      rehearsal.account.addAlarm({ name: CHECKOUT.alarm });
      return one();
    },
  },
  {
    name: 'paused',
    summary: 'The Deployment is paused (someone is working on it): kubectl refuses, so does the runbook.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      rehearsal.cluster().setPaused(CHECKOUT.namespace, CHECKOUT.deployment, true);
      return one();
    },
  },
  {
    name: 'no-previous-revision',
    summary: 'The first deploy of the Deployment fails: there is nothing to roll back to.',
    async arrange(rehearsal) {
      rehearsal.cluster().addDeployment({
        namespace: CHECKOUT.namespace,
        name: CHECKOUT.deployment,
        revisions: [{ image: CHECKOUT.images[2] }],
      });
      rehearsal.account.addAlarm({ name: CHECKOUT.alarm });
      return one();
    },
  },
  {
    name: 'cooldown',
    summary: 'checkout-api was rolled back 5 minutes ago; rolling back again could undo the fix.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      await rehearsal.account.seedLock(LOCK_TABLE, CHECKOUT.lockKey, {
        lastRollbackAt: Math.floor(Date.now() / 1000) - 300,
        lastRollbackExecution:
          'arn:aws:states:eu-west-1:111122223333:execution:platform-runbooks-rollback:earlier',
        lastRollbackEventId: 'an-earlier-event',
      });
      return one();
    },
  },
  {
    name: 'canary-in-progress',
    summary:
      'A canary holds the workload lock: the rollback asks it to abort (traffic back to stable within about a minute) and stays out of its way.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      rehearsal.account.executionStatuses.set(CANARY_EXECUTION, 'RUNNING');
      await rehearsal.account.seedLock(LOCK_TABLE, CHECKOUT.lockKey, {
        holder: 'canary',
        holderExecution: CANARY_EXECUTION,
        holderService: 'checkout',
        lockExpiresAt: Math.floor(Date.now() / 1000) + 900,
      });
      return one();
    },
  },
  {
    name: 'canary-awaiting-approval',
    summary:
      'A canary holding the lock waits for its promotion approval: the rollback rejects that approval, so the canary aborts now rather than when a person answers.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      rehearsal.account.executionStatuses.set(CANARY_EXECUTION, 'RUNNING');
      rehearsal.account.openTaskToken(CANARY_APPROVAL_TOKEN, {
        executionArn: CANARY_EXECUTION,
        state: 'AskApproval',
        timeoutSeconds: 3_600,
      });
      const now = new Date();
      await rehearsal.account.seedLock(LOCK_TABLE, CHECKOUT.lockKey, {
        holder: 'canary',
        holderExecution: CANARY_EXECUTION,
        holderService: 'checkout',
        lockExpiresAt: Math.floor(now.getTime() / 1000) + 900,
        approvalToken: CANARY_APPROVAL_TOKEN,
        approvalKind: 'promotion',
        approvalRequestedAt: now.toISOString(),
        approvalTimeoutAt: new Date(now.getTime() + 3_600_000).toISOString(),
      });
      return one();
    },
  },
  {
    name: 'conflict-once',
    summary:
      'The first PATCH meets a 409 Conflict: the runbook re-reads, re-plans and succeeds on the second try.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      rehearsal.cluster().injectFault({ method: 'PATCH', status: 409, times: 1 });
      return one();
    },
  },
  {
    name: 'conflict-twice',
    summary: 'The PATCH meets 409 Conflict twice: the runbook gives up without changing anything and pages.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      rehearsal.cluster().injectFault({ method: 'PATCH', status: 409, times: 2 });
      return one();
    },
  },
  {
    name: 'kubernetes-timeout',
    summary: 'The Kubernetes API stops answering: the runbook retries, then pages without having acted.',
    async arrange(rehearsal) {
      // Still in ALARM at every retry of Prepare, which reads it each time.
      await healthyCheckout(rehearsal, null);
      rehearsal.cluster().injectFault({ method: 'GET', delayMs: 3_000, times: 20 });
      return one();
    },
  },
  {
    name: 'private-cluster',
    summary:
      'The cluster has a private-only endpoint and the runbooks run in its VPC (`network`): the rollback goes ahead.',
    config: inClusterVpc,
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      rehearsal.account.setEndpointAccess(CHECKOUT.cluster, PRIVATE_ONLY);
      return one();
    },
  },
  {
    name: 'private-cluster-outside-vpc',
    summary:
      'The cluster has a private-only endpoint but no `network` is configured: refused by name, pages, acts on nothing.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      rehearsal.account.setEndpointAccess(CHECKOUT.cluster, PRIVATE_ONLY);
      return one();
    },
  },
  {
    name: 'restricted-public-endpoint',
    summary: `The public endpoint admits only ${OFFICE_CIDR} and the Lambdas run outside a VPC: refused by name, pages, acts on nothing.`,
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      rehearsal.account.setEndpointAccess(CHECKOUT.cluster, { publicAccessCidrs: [OFFICE_CIDR] });
      return one();
    },
  },
  {
    name: 'slack-down',
    summary:
      'Slack answers 503 to everything: the rollback still happens and recovers; the failures are recorded.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      rehearsal.slack.respondWith(Array.from({ length: 100 }, () => ({ status: 503 })));
      return one();
    },
  },
  {
    name: 'duplicate-event',
    summary: 'EventBridge delivers the same alarm event twice, at the same moment: one rollback.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      const event = alarmEvent(CHECKOUT.alarm);
      return { events: [event, event], concurrent: true };
    },
  },
  {
    name: 'duplicate-event-later',
    summary:
      'The same alarm event arrives again after the first run finished: nothing happens, nobody is pinged.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      const event = alarmEvent(CHECKOUT.alarm);
      return { events: [event, event] };
    },
  },
  {
    name: 'two-alarms',
    summary: 'Two alarms of checkout-api fire together (5xx rate and a tagged latency alarm): one rollback.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      rehearsal.account.addAlarm({
        name: 'rollback-checkout-api-latency',
        tags: { [TARGET_TAG]: CHECKOUT.lockKey },
        transition: { to: 'OK', afterReads: 2 },
      });
      return {
        events: [alarmEvent(CHECKOUT.alarm), alarmEvent('rollback-checkout-api-latency')],
        concurrent: true,
      };
    },
  },
  {
    name: 'page-not-delivered',
    summary:
      'The rollout fails and the page to on-call fails too (SNS down): the run fails, so the ExecutionsFailed alarm pages instead.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal, null);
      rehearsal
        .cluster()
        .setRollout(CHECKOUT.namespace, CHECKOUT.deployment, { kind: 'deadline-exceeded', afterReads: 1 });
      rehearsal.account.injectFault({
        service: 'sns',
        operation: 'Publish',
        name: 'InternalErrorException',
        fault: 'server',
        times: 10,
      });
      return one();
    },
  },
  {
    name: 'slack-rate-limited',
    summary:
      'Slack answers 429 with Retry-After: 30 to the first two calls: the progress message is lost, the summary arrives on the retry a minute later.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      rehearsal.slack.respondWith([
        { status: 429, retryAfter: 30 },
        { status: 429, retryAfter: 30 },
      ]);
      return one();
    },
  },
  {
    name: 'slack-rate-limited-always',
    summary:
      'Slack answers every call with 429 and Retry-After: 30: the rollback completes, and its outcome says no summary reached Slack.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      rehearsal.slack.respondWith(Array.from({ length: 20 }, () => ({ status: 429, retryAfter: 30 })));
      return one();
    },
  },
  {
    name: 'shadow',
    summary:
      'checkout-api is in shadow mode: every guard runs and the exact patch is planned, then reported as "would roll back"; nothing is patched or locked.',
    config: (base) =>
      parseConfig(
        {
          ...base,
          rollback: {
            ...base.rollback,
            targets: (base.rollback?.targets ?? []).map((target) =>
              target.alarmName === CHECKOUT.alarm ? { ...target, mode: 'shadow' } : target,
            ),
          },
        },
        'the shadow scenario',
      ),
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      return one();
    },
  },
  {
    name: 'alarm-already-ok',
    summary:
      'A late or retried delivery: the event says ALARM, the alarm is OK again. Skipped by name, nothing patched.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      rehearsal.account.addAlarm({ name: CHECKOUT.alarm, state: 'OK' });
      return one();
    },
  },
  {
    name: 'foreign-account',
    summary:
      "An alarm event from another account reaches the bus: refused, that account's alarms are not ours.",
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      const event = alarmEvent(CHECKOUT.alarm);
      event.account = '999988887777';
      event.resources = [`arn:aws:cloudwatch:${REGION}:999988887777:alarm:${CHECKOUT.alarm}`];
      return { events: [event] };
    },
  },
  {
    name: 'stale-event',
    summary:
      'An alarm event from three hours ago (replayed by hand): refused, a rollback now is for a person.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      return { events: [alarmEvent(CHECKOUT.alarm, { at: new Date(Date.now() - 3 * 3_600_000) })] };
    },
  },
  {
    name: 'prepare-retried',
    summary:
      'Prepare takes the lock, then its answer is lost (Lambda.SdkClientException); the retry finds its own lock and the rollback happens once.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      let attempts = 0;
      const prepare = rehearsal.handlerOf(rollbackFunctions.prepare);
      return {
        events: [alarmEvent(CHECKOUT.alarm)],
        options: {
          overrides: {
            Prepare: async (input) => {
              const answer = await prepare(input);
              attempts += 1;
              if (attempts === 1) throw lostAnswer();
              return answer;
            },
          },
        },
      };
    },
  },
  {
    name: 'stale-lock',
    summary:
      "A rollback's Prepare was killed after taking the lock; its execution has failed. The next alarm takes the lock over at once and rolls back.",
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      const killed = `arn:aws:states:${REGION}:${ACCOUNT}:execution:platform-runbooks-rollback:killed-1`;
      rehearsal.account.executionStatuses.set(killed, 'FAILED');
      await rehearsal.account.seedLock(LOCK_TABLE, CHECKOUT.lockKey, {
        holder: 'rollback',
        holderExecution: killed,
        holderEventId: 'an-earlier-event',
        lockExpiresAt: Math.floor(Date.now() / 1000) + 1_500,
      });
      return one();
    },
  },
  {
    name: 'malformed-event',
    summary: 'An event without detail.state arrives: a clear error naming the field, no action, no page.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      const event = alarmEvent(CHECKOUT.alarm) as { detail: Record<string, unknown> };
      delete event.detail.state;
      return { events: [event] };
    },
  },
  {
    name: 'config-error',
    summary:
      'The prepare function was deployed with an unusable setting: it fails at start, pages, acts on nothing.',
    async arrange(rehearsal) {
      await healthyCheckout(rehearsal);
      return {
        events: [alarmEvent(CHECKOUT.alarm)],
        options: {
          overrides: {
            // A cold start with this environment throws before the handler runs, as in Lambda.
            Prepare: async () => readPrepareSettings({ ...process.env, COOLDOWN_SECONDS: 'thirty minutes' }),
          },
        },
      };
    },
  },
  ...kubernetesErrorScenarios,
];
