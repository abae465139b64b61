import { describe, expect, it } from 'vitest';
import { reasonText, type RollbackGuard } from '../../lambdas/rollback/reason-text';
import { describeWorkload } from '../../lambdas/rollback/prepare';

describe('the rollback’s guard sentences', () => {
  it.each<[RollbackGuard, string]>([
    ['deployment-paused', 'the Deployment is paused: someone is already working on it'],
    ['unmapped-alarm', 'the alarm is not mapped to any workload'],
    ['invalid-target-tag', 'the alarm\'s runbooks:rollback-target tag is not "cluster/namespace/deployment"'],
    [
      'target-not-permitted',
      'the runbook has no access to that namespace (eksClusters in the configuration)',
    ],
    ['deployment-missing', 'the Deployment does not exist'],
    ['no-previous-revision', 'there is no earlier revision to roll back to'],
    ['revision-not-found', 'the configured revision is no longer in the rollout history'],
    ['already-at-revision', 'the Deployment already runs the revision it would roll back to'],
    [
      'deployment-changed',
      'the Deployment was deployed again while the rollback was being prepared; that deploy was left alone',
    ],
    ['canary-in-progress', 'a canary is in progress on this workload'],
    ['rollback-in-progress', 'another alarm already started a rollback of this workload'],
    ['not-in-alarm', 'the alarm is not in ALARM'],
    ['duplicate-event', 'this alarm event was already handled'],
  ])('says %s as “%s”', (reason, sentence) => {
    expect(reasonText(reason)).toBe(sentence);
  });

  it('says how recent the previous rollback was from the cooldown minutes', () => {
    expect(reasonText('cooldown', { cooldownMinutes: 30 })).toBe('rolled back less than 30 minutes ago');
    expect(reasonText('cooldown', { cooldownMinutes: 1 })).toBe('rolled back less than 1 minute ago');
  });

  it('says what was done about a running canary: asked to abort in act mode, would be in shadow mode', () => {
    expect(reasonText('canary-in-progress', { canaryAbort: 'requested' })).toBe(
      'a canary is in progress on this workload; it was asked to abort, and sends all traffic back to stable within about a minute',
    );
    expect(reasonText('canary-in-progress', { canaryAbort: 'would-request' })).toBe(
      'a canary is in progress on this workload; in act mode it would be asked to abort',
    );
  });

  it('still says something about the cooldown when its minutes are not known', () => {
    expect(reasonText('cooldown')).toBe('already rolled back within the cooldown period');
  });

  it('ignores the cooldown minutes for every other guard', () => {
    expect(reasonText('deployment-missing', { cooldownMinutes: 30 })).toBe('the Deployment does not exist');
  });
});

describe('how the rollback’s notifications name the workload', () => {
  it('names the Deployment, its cluster and the alarm once the alarm is mapped', () => {
    expect(
      describeWorkload({
        alarmName: 'checkout-5xx',
        cluster: 'prod',
        namespace: 'checkout',
        deployment: 'api',
      }),
    ).toEqual({
      subject: 'checkout/api',
      facts: [
        { label: 'Deployment', value: 'checkout/api', code: true },
        { label: 'Cluster', value: 'prod', code: true },
        { label: 'Alarm', value: 'checkout-5xx', code: true },
      ],
    });
  });

  it('names the alarm alone when no workload was resolved', () => {
    expect(describeWorkload({ alarmName: 'orders-latency' })).toEqual({
      subject: 'orders-latency',
      facts: [{ label: 'Alarm', value: 'orders-latency', code: true }],
    });
  });
});
