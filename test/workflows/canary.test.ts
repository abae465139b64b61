import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryStatusSchema } from '../../lambdas/canary/status';
import type { RunbooksConfig } from '../../lib/config/schema';
import { NAMESPACE, CLUSTER } from '../harness/canary/config';
import { CANARY_IMAGE, STABLE_IMAGE } from '../harness/canary/peers';
import { rehearsedRunbook } from '../harness/canary/rehearsal';
import { abortRequestedAt, clicks } from '../harness/canary/scenarios';
import { LOCK_TABLE, Rehearsal, type RehearsalResult } from '../harness/rehearsal';

// The canary promotion's real ASL file and handlers, run by aws-local-stepfunctions against the simulated API
// server (Deployments, Services, the Ingress and HTTPRoute, TargetGroupBindings), a simulated ELBv2 reconciled
// by a simulated AWS Load Balancer Controller, a Gateway API controller, CloudWatch with metric math, DynamoDB
// (dynalite: the lock), Step Functions' task tokens and a real Slack receiver playing the Web API. Each scenario
// asserts what on-call would find afterwards: where the traffic is, what stable and the canary run, the lock,
// Slack and the lifecycle events.

let rehearsal: Rehearsal<RunbooksConfig>;

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  rehearsal = await Rehearsal.start(rehearsedRunbook);
});
afterAll(async () => {
  await rehearsal?.close();
});

async function run(name: string): Promise<RehearsalResult> {
  const [result] = await rehearsal.runScenario(name);
  if (!result) throw new Error(`scenario ${name} ran nothing`);
  return result;
}

const api = () => rehearsal.cluster(CLUSTER);
const deployment = (name: string) => {
  const found = api().getDeployment(NAMESPACE, name);
  if (!found) throw new Error(`no Deployment ${name}`);
  return found;
};
const imageOf = (name: string) => deployment(name).spec.template.spec.containers[0]?.image;
const replicasOf = (name: string) => deployment(name).spec.replicas;
const events = (type: string) => rehearsal.account.events.filter((event) => event.detailType === type);
const outcome = () => {
  const [event] = [...events('CanaryPromoted'), ...events('CanaryAborted')];
  return event?.detail as {
    outcome: { kind: string; reason: string; detail?: string };
    failures: number;
    stepIndex: number;
  };
};
const count = (states: string[], name: string) => states.filter((state) => state === name).length;
const kubernetesWrites = () => api().requests.filter((request) => request.method === 'PATCH');
const sfnCalls = (operation: string) =>
  rehearsal.account.calls.filter((call) => call.service === 'states' && call.operation === operation);

async function lockItem(service: string) {
  const answer = await rehearsal.account.dynamodb.send(
    new GetItemCommand({
      TableName: LOCK_TABLE,
      Key: { workload: { S: `${CLUSTER}/${NAMESPACE}/${service}` } },
    }),
  );
  return answer.Item ?? {};
}

async function lastStatus(service: string) {
  const item = await lockItem(service);
  return canaryStatusSchema.parse(JSON.parse(item.canaryStatus?.S ?? '{}'));
}

/** The canary's share on the router now: the route's weights, or the load balancer's rules. */
function routeCanaryWeight(service: string): number {
  const route = api().getHttpRoute(NAMESPACE, service);
  const refs = route?.spec.rules?.[0]?.backendRefs ?? [];
  const weight = (name: string) => refs.find((ref) => ref.name === name)?.weight ?? 0;
  return weight(`${service}-canary`);
}

function ingressCanaryWeight(): number {
  const ingress = api().getIngress(NAMESPACE, 'shop');
  const action = JSON.parse(
    ingress?.metadata.annotations?.['alb.ingress.kubernetes.io/actions.checkout-split'] ?? '{}',
  ) as {
    forwardConfig: { targetGroups: Array<{ serviceName: string; weight?: number }> };
  };
  return (
    action.forwardConfig.targetGroups.find((group) => group.serviceName === 'checkout-canary')?.weight ?? -1
  );
}

/** Promoted: stable runs the new version, all traffic on stable, the canary at zero, the lock released. */
async function expectPromoted(result: RehearsalResult, service: string) {
  expect(result.status).toBe('SUCCEEDED');
  expect(outcome().outcome.kind).toBe('promoted');
  expect(imageOf(service)).toBe(CANARY_IMAGE(service));
  expect(replicasOf(`${service}-canary`)).toBe(0);
  const item = await lockItem(service);
  expect(item.holder).toBeUndefined();
  expect((await lastStatus(service)).phase).toBe('promoted');
}

/** Aborted: stable untouched, all traffic on stable, the canary at zero, the lock released, Slack told why. */
async function expectAborted(result: RehearsalResult, service: string, reason: string) {
  expect(result.status).toBe('SUCCEEDED');
  expect(outcome().outcome).toMatchObject({ kind: 'aborted', reason });
  expect(imageOf(service)).toBe(STABLE_IMAGE(service));
  expect(replicasOf(`${service}-canary`)).toBe(0);
  expect((await lockItem(service)).holder).toBeUndefined();
  const status = await lastStatus(service);
  expect(status.phase).toBe('aborted');
  expect(status.outcome?.reason).toContain(reason);
  const [thread] = rehearsal.slack.api.threads;
  expect(thread?.parent.current.text).toContain('aborted');
}

describe('healthy promotion, with each router', () => {
  it('ALB: each weight confirmed on the load balancer rules, promoted, traffic back on stable', async () => {
    const result = await run('healthy-alb');
    await expectPromoted(result, 'checkout');
    expect(count(result.states, 'Shift')).toBe(4);
    expect(count(result.states, 'Analyse')).toBe(4);
    expect(ingressCanaryWeight()).toBe(0);
    // One GetMetricData call per analysis, both checks (4 series, 2 expression inputs each for the 5xx rate) in it.
    expect(rehearsal.account.metrics.calls.length).toBe(4);
    // The Slack thread: the parent rewritten at each step, a reply per step and the end.
    const [thread] = rehearsal.slack.api.threads;
    expect(thread?.parent.updates.length).toBeGreaterThanOrEqual(5);
    expect(thread?.replies.length).toBe(5);
    expect(thread?.parent.current.text).toContain('promoted');
  });

  it('Gateway API: the route weights confirmed from its status, promoted', async () => {
    const result = await run('healthy-gateway-api');
    await expectPromoted(result, 'search');
    expect(routeCanaryWeight('search')).toBe(0);
  });

  it('replica ratio: stable back to all replicas, the canary at zero, promoted', async () => {
    const result = await run('healthy-replica-ratio');
    await expectPromoted(result, 'worker');
    expect(replicasOf('worker')).toBe(10);
  });
});

describe('analysis', () => {
  it('a canary failing from the second step fails its repeat too and is aborted at 20 %', async () => {
    const result = await run('fails-at-second-step');
    await expectAborted(result, 'search', 'analysis');
    expect(outcome().failures).toBe(2);
    expect(outcome().stepIndex).toBe(1);
    expect(outcome().outcome.detail).toContain('error-rate');
    expect(routeCanaryWeight('search')).toBe(0);
  });

  it('a canary 2.4× worse than stable, under the absolute limit, is aborted by the comparison', async () => {
    const result = await run('worse-than-stable');
    await expectAborted(result, 'search', 'analysis');
    const detail = outcome().outcome.detail ?? '';
    expect(detail).toContain('× stable');
    expect(detail).toContain('Mann-Whitney');
    expect(detail).not.toContain('> max');
  });

  it('no data with the fail policy counts as failed checks: aborted after the threshold', async () => {
    const result = await run('no-data-fail');
    await expectAborted(result, 'search', 'analysis');
    expect(outcome().outcome.detail).toContain('no data');
    expect(count(result.states, 'AskApproval')).toBe(0);
  });

  it('no data with the pause policy asks a person, who says go on; the run continues and is promoted', async () => {
    const result = await run('no-data-pause');
    await expectPromoted(result, 'payments');
    // Once for the pause at the second step, once for the promotion.
    expect(count(result.states, 'AskApproval')).toBe(2);
    expect(sfnCalls('SendTaskSuccess').length).toBe(2);
    expect(outcome().failures).toBe(0);
  });
});

describe('approval', () => {
  it('granted in Slack: promoted', async () => {
    const result = await run('approval-granted');
    await expectPromoted(result, 'payments');
    expect(clicks.map((click) => click.statusCode)).toEqual([200]);
    expect(clicks[0]?.body).toContain('Approved');
  });

  it('rejected in Slack: aborted', async () => {
    const result = await run('approval-rejected');
    await expectAborted(result, 'payments', 'rejected');
    expect(sfnCalls('SendTaskFailure').length).toBe(1);
  });

  it('no answer within the timeout: aborted, 30 minutes later', async () => {
    const result = await run('approval-timed-out');
    await expectAborted(result, 'payments', 'approval-timed-out');
    expect(result.timeline.some((line) => line.text.includes('timed out after 1800 s'))).toBe(true);
  });

  it('sent twice: the second click and a late Reject do nothing', async () => {
    const result = await run('approval-sent-twice');
    await expectPromoted(result, 'payments');
    expect(sfnCalls('SendTaskSuccess').length).toBe(1);
    expect(sfnCalls('SendTaskFailure').length).toBe(0);
    expect(clicks.map((click) => click.statusCode)).toEqual([200, 200, 200]);
    expect(clicks[1]?.body).toContain('Already approved');
    expect(clicks[2]?.body).toContain('Already approved');
  });

  it('a forged, a stale and a non-approver click are refused; the approver then approves', async () => {
    const result = await run('forged-slack-request');
    await expectPromoted(result, 'payments');
    expect(clicks.map((click) => click.statusCode)).toEqual([401, 401, 200, 200]);
    expect(clicks[2]?.body).toContain('not an approver');
    expect(sfnCalls('SendTaskSuccess').length).toBe(1);
  });
});

describe('routers', () => {
  it('ALB weights applied late: each step waits for the load balancer, then counts', async () => {
    const result = await run('alb-weights-late');
    await expectPromoted(result, 'checkout');
    // Three looks per shift at least (the controller applies at the third), four shifts and the return.
    expect(count(result.states, 'ConfirmWeight')).toBeGreaterThanOrEqual(12);
    // The canary's pods stay until the load balancer shows all traffic back on stable (three looks here).
    expect(count(result.states, 'ConfirmStable')).toBeGreaterThanOrEqual(3);
    expect(result.states.indexOf('ScaleDownCanary')).toBeGreaterThan(
      result.states.lastIndexOf('ConfirmStable'),
    );
  });

  it('ELBv2 throttling while a weight is confirmed is retried, not an abort', async () => {
    const result = await run('elb-throttled');
    await expectPromoted(result, 'checkout');
    const retries = result.timeline.filter((line) => line.text === '↻ retry ConfirmWeight');
    expect(retries).toHaveLength(2);
  });

  it('ALB weights never applied: the step fails clearly after 5 minutes, the canary is aborted', async () => {
    const result = await run('alb-weights-never-applied');
    await expectAborted(result, 'checkout', 'traffic-not-applied');
    expect(count(result.states, 'Analyse')).toBe(0);
    expect(outcome().outcome.detail).toMatch(/5 %/);
  });

  it('the Ingress edited by hand mid-run: no overwrite of the edit by the next step, an abort to stable', async () => {
    const result = await run('ingress-edited-by-hand');
    await expectAborted(result, 'checkout', 'traffic-edited-by-hand');
    expect(count(result.states, 'Shift')).toBe(2);
    expect(ingressCanaryWeight()).toBe(0);
  });
});

describe('when the runbook cannot finish', () => {
  it('traffic that cannot be confirmed back on stable: the canary keeps its pods, on-call is paged once', async () => {
    const result = await run('traffic-stuck-on-abort');
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.at(-1)).toBe('Escalated');
    expect(result.states).not.toContain('ScaleDownCanary');
    expect(replicasOf('checkout-canary')).toBe(4);
    expect(imageOf('checkout')).toBe(STABLE_IMAGE('checkout'));
    expect(rehearsal.account.pages).toHaveLength(1);
    expect(rehearsal.account.pages[0]?.subject).toContain('Canary needs a human');
    expect(events('CanaryFailed')).toHaveLength(1);
    expect(events('CanaryFailed')[0]?.detail).toMatchObject({
      outcome: { kind: 'failed', reason: 'traffic-stuck' },
    });
    // Released, so the rollback runbook may act; the last status says what happened.
    expect((await lockItem('checkout')).holder).toBeUndefined();
    expect((await lastStatus('checkout')).phase).toBe('failed');
  });

  it('stable that never rolls out the promoted template: traffic stays on the canary, on-call is paged once', async () => {
    const result = await run('promotion-stuck');
    expect(result.states.at(-1)).toBe('Escalated');
    expect(result.states).toContain('PromotionStuck');
    expect(result.states).not.toContain('RouteToStable');
    // The canary serves all the traffic it had at the last step, with its pods.
    expect(routeCanaryWeight('search')).toBe(100);
    expect(replicasOf('search-canary')).toBe(4);
    expect(rehearsal.account.pages).toHaveLength(1);
    expect(events('CanaryFailed')[0]?.detail).toMatchObject({
      outcome: { kind: 'failed', reason: 'promotion-stuck' },
    });
    expect((await lockItem('search')).holder).toBeUndefined();
  });
});

describe('coordination', () => {
  it('an alarm firing mid-canary aborts it within a minute, not at the end of the interval', async () => {
    const result = await run('alarm-mid-canary');
    await expectAborted(result, 'search', 'abort-requested');
    expect(outcome().outcome.detail).toContain('alarm "search-5xx-rate" fired');
    expect(count(result.states, 'Analyse')).toBe(2);
    const [requestedAt] = abortRequestedAt;
    const status = await lastStatus('search');
    // The aborting analysis ran within a minute (one hold) of the request, well inside the 5-minute interval.
    const abortedAt = Date.parse(status.updatedAt);
    expect(requestedAt).toBeDefined();
    expect(abortedAt - (requestedAt ?? 0)).toBeLessThanOrEqual(70_000);
  });

  it('an alarm firing while the canary waits for approval rejects it: aborted at once, not promoted', async () => {
    const result = await run('alarm-during-approval');
    await expectAborted(result, 'payments', 'rejected');
    expect(outcome().outcome.detail).toContain('alarm "payments-5xx-rate"');
    expect(result.timeline.some((line) => line.text.includes('timed out'))).toBe(false);
  });

  it('an alarm just before the approvers are asked: nobody is asked, the canary aborts', async () => {
    const result = await run('alarm-before-approval');
    await expectAborted(result, 'payments', 'abort-requested');
    // The event carries the Lambda's error document; the status (and Slack) its message.
    expect(outcome().outcome.detail).toContain('CanaryAbortRequested');
    expect((await lastStatus('payments')).outcome?.reason).toContain(
      '(alarm "payments-5xx-rate" fired) before the approval was asked',
    );
    expect(rehearsal.account.taskTokens.size).toBe(1);
    expect([...rehearsal.account.taskTokens.values()][0]?.status).not.toBe('answered');
    expect(
      rehearsal.slack.api.messages.some((message) => message.current.text?.includes('waits for approval')),
    ).toBe(false);
  });

  it('a second CanaryRequested while one runs is refused clearly and changes nothing', async () => {
    const results = await rehearsal.runScenario('second-request-while-running');
    // A refusal is no incident: the run ends Rejected (succeeded, no page), Slack and CI are told.
    const refused = results.filter((result) => result.states.includes('Rejected'));
    const ran = results.filter((result) => result.states.includes('Done'));
    expect(results.map((result) => result.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(refused).toHaveLength(1);
    expect(ran).toHaveLength(1);
    expect(refused[0]?.lambdaInvocations[0]?.error).toBe('CanaryAlreadyRunning');
    expect(rehearsal.account.pages).toHaveLength(0);
    // Either request may take the lock first: stable runs the one that ran, never a mix.
    expect([CANARY_IMAGE('checkout'), 'registry.example.com/checkout:1.2.0']).toContain(imageOf('checkout'));
    const refusal = rehearsal.slack.api.messages.find((message) => message.current.text?.includes('refused'));
    expect(refusal?.current.text).toContain('already running');
    expect(events('CanaryRejected')).toHaveLength(1);
  });

  it('malformed requests are refused naming the field, before any change', async () => {
    const results = await rehearsal.runScenario('malformed-requests');
    expect(results.map((result) => result.status)).toEqual([
      'SUCCEEDED',
      'SUCCEEDED',
      'SUCCEEDED',
      'SUCCEEDED',
    ]);
    expect(results.every((result) => result.states.at(-1) === 'Rejected')).toBe(true);
    expect(results.map((result) => result.lambdaInvocations[0]?.error)).toEqual([
      'InvalidCanaryRequest',
      'UnknownCanaryService',
      'InvalidCanaryRequest',
      'InvalidCanaryRequest',
    ]);
    expect(kubernetesWrites()).toHaveLength(0);
    const texts = rehearsal.slack.api.messages.map((message) => message.current.text ?? '');
    expect(texts[0]).toContain('exactly one of image and podTemplatePatch');
    expect(texts[1]).toContain('"inventory" is not configured');
    expect(texts[2]).toContain('latest');
    expect(texts[3]).toContain('999999999999');
    expect(events('CanaryRejected')).toHaveLength(4);
    expect((await lockItem('checkout')).holder).toBeUndefined();
  });
});
