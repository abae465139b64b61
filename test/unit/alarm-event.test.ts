import { describe, expect, it } from 'vitest';
import { InvalidAlarmEvent, parseAlarmEvent } from '../../lambdas/rollback/alarm-event';

const ARN = 'arn:aws:cloudwatch:eu-west-1:111122223333:alarm:checkout-api-5xx-rate';

function event(overrides: Record<string, unknown> = {}, detail: Record<string, unknown> = {}): unknown {
  return {
    version: '0',
    id: 'c4c1c1c9-6542-e61b-6ef0-8c4d36933a92',
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: '111122223333',
    time: '2026-11-22T03:00:00Z',
    region: 'eu-west-1',
    resources: [ARN],
    detail: {
      alarmName: 'checkout-api-5xx-rate',
      state: { value: 'ALARM', reason: 'Threshold Crossed', timestamp: '2026-11-22T03:00:00.985+0000' },
      previousState: { value: 'OK' },
      ...detail,
    },
    ...overrides,
  };
}

const failure = (raw: unknown): Error => {
  try {
    parseAlarmEvent(raw);
  } catch (error) {
    return error as Error;
  }
  throw new Error('parseAlarmEvent accepted a malformed event');
};

describe('parsing a CloudWatch alarm state change', () => {
  it('reads the alarm, its state and CloudWatch timestamps with a +0000 offset', () => {
    expect(parseAlarmEvent(event())).toEqual({
      eventId: 'c4c1c1c9-6542-e61b-6ef0-8c4d36933a92',
      alarmName: 'checkout-api-5xx-rate',
      alarmArn: ARN,
      state: 'ALARM',
      reason: 'Threshold Crossed',
      at: '2026-11-22T03:00:00.985Z',
      account: '111122223333',
      region: 'eu-west-1',
    });
  });

  it.each([
    ['no state', event({}, { state: undefined }), 'detail.state'],
    [
      'an unknown state',
      event({}, { state: { value: 'BROKEN', timestamp: '2026-11-22T03:00:00Z' } }),
      'detail.state.value',
    ],
    [
      'an unreadable timestamp',
      event({}, { state: { value: 'ALARM', timestamp: 'yesterday' } }),
      'detail.state.timestamp',
    ],
    ['another source', event({ source: 'aws.ec2' }), 'source'],
    ['no alarm ARN', event({ resources: [] }), 'resources'],
    ['a bad account id', event({ account: '1234' }), 'account'],
    ['not an object at all', 'ALARM', '(root)'],
  ])('rejects an event with %s, naming %s', (_, raw, field) => {
    const error = failure(raw);
    expect(error).toBeInstanceOf(InvalidAlarmEvent);
    expect(error.name).toBe('InvalidAlarmEvent');
    expect(error.message).toContain(field);
  });

  it('rejects an event whose ARN names another alarm than detail.alarmName', () => {
    const error = failure(event({ resources: [`${ARN}-other`] }));
    expect(error).toBeInstanceOf(InvalidAlarmEvent);
    expect(error.message).toMatch(/is not the ARN of alarm "checkout-api-5xx-rate"/);
  });
});
