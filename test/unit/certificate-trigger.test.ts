import { describe, expect, it } from 'vitest';
import {
  ACM_EVENT_TYPES,
  checkedRegions,
  InvalidCertificateEvent,
  readTrigger,
  type AcmEventType,
  type TriggerContext,
} from '../../lambdas/certificates/trigger';

const ACCOUNT = '111122223333';
const context: TriggerContext = { account: ACCOUNT, regions: ['eu-west-1', 'us-east-1', 'eu-central-1'] };
const arn = (region = 'eu-west-1', account = ACCOUNT) =>
  `arn:aws:acm:${region}:${account}:certificate/61f50cd4-45b9-4259-b049-d0a53682fa4b`;

/** An ACM event as EventBridge delivers it. */
function acmEvent(
  detailType: AcmEventType = 'ACM Certificate Approaching Expiration',
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    version: '0',
    id: '9c95e8e4-96a4-ef3f-b739-b6aa5b193afb',
    'detail-type': detailType,
    source: 'aws.acm',
    account: ACCOUNT,
    time: '2026-11-25T06:51:08Z',
    region: 'eu-west-1',
    resources: [arn()],
    detail: { DaysToExpiry: 31, CommonName: 'shop.example.com' },
    ...overrides,
  };
}

/** The InvalidCertificateEvent message `readTrigger` throws for `input`, or fails the test. */
function refusal(input: unknown, triggerContext: TriggerContext = context): string {
  try {
    readTrigger(input, triggerContext);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidCertificateEvent);
    expect((error as Error).name).toBe('InvalidCertificateEvent');
    return (error as Error).message;
  }
  throw new Error('the input was accepted');
}

describe('readTrigger', () => {
  describe('with a scheduled start', () => {
    it('reads {} (a check started by hand) as the schedule', () => {
      expect(readTrigger({}, context)).toEqual({ kind: 'schedule' });
    });

    it('reads {"trigger":"schedule"} as the schedule', () => {
      expect(readTrigger({ trigger: 'schedule' }, context)).toEqual({ kind: 'schedule' });
    });

    it('refuses a scheduled start with an extra key, naming the key', () => {
      expect(refusal({ trigger: 'schedule', force: true })).toBe(
        'The start input (expected {} or {"trigger":"schedule"}, or an ACM event) is malformed: (root): Unrecognized key: "force"',
      );
    });

    it('refuses a trigger other than "schedule", naming the field', () => {
      expect(refusal({ trigger: 'manual' })).toMatch(/is malformed: trigger: /);
    });

    it.each([
      ['null', null, 'null'],
      ['an array', [], 'array'],
      ['a string', 'schedule', 'string'],
      ['a number', 42, 'number'],
    ])('refuses %s as input', (_what, input, received) => {
      expect(refusal(input)).toMatch(
        new RegExp(`^The start input .* is malformed: \\(root\\): .*expected object, received ${received}$`),
      );
    });
  });

  describe('with an ACM event', () => {
    it.each(ACM_EVENT_TYPES)('accepts "%s" and names the certificate it is about', (detailType) => {
      expect(readTrigger(acmEvent(detailType), context)).toEqual({
        kind: 'acm-event',
        detailType,
        certificateArn: arn(),
        region: 'eu-west-1',
        eventId: '9c95e8e4-96a4-ef3f-b739-b6aa5b193afb',
        daysToExpiry: 31,
      });
    });

    it('passes through the days to expiry ACM counted, even zero', () => {
      const event = acmEvent('ACM Certificate Expired', {
        detail: { DaysToExpiry: 0, CommonName: 'shop.example.com' },
      });
      expect(readTrigger(event, context)).toMatchObject({ kind: 'acm-event', daysToExpiry: 0 });
    });

    it('leaves daysToExpiry out when the event has none', () => {
      const event = acmEvent('ACM Certificate Renewal Action Required', {
        detail: { CommonName: 'shop.example.com', RenewalStatus: 'FAILED' },
      });
      const trigger = readTrigger(event, context);
      expect(trigger.kind).toBe('acm-event');
      expect(trigger).not.toHaveProperty('daysToExpiry');
    });

    it('accepts an event from us-east-1 (CloudFront) when the check reads it', () => {
      const event = acmEvent(undefined, { region: 'us-east-1', resources: [arn('us-east-1')] });
      expect(readTrigger(event, context)).toMatchObject({
        region: 'us-east-1',
        certificateArn: arn('us-east-1'),
      });
    });

    it('refuses an unknown detail-type, listing the ones it handles', () => {
      const message = refusal({ ...acmEvent(), 'detail-type': 'ACM Certificate Deleted' });
      expect(message).toMatch(/^The ACM event is malformed: detail-type: must be one of /);
      for (const type of ACM_EVENT_TYPES) expect(message).toContain(`"${type}"`);
    });

    it('refuses an event whose source is not aws.acm, naming the field', () => {
      expect(refusal(acmEvent(undefined, { source: 'aws.health' }))).toBe(
        'The ACM event is malformed: source: Invalid input: expected "aws.acm"',
      );
    });

    it('refuses an event that names no certificate', () => {
      expect(refusal(acmEvent(undefined, { resources: [] }))).toMatch(
        /^The ACM event is malformed: resources: must name exactly one certificate ARN/,
      );
    });

    it('refuses an event that names two certificates', () => {
      const resources = [arn(), arn().replace(/\/[^/]+$/, '/0a1b2c3d-0000-4000-8000-000000000000')];
      expect(refusal(acmEvent(undefined, { resources }))).toMatch(
        /^The ACM event is malformed: resources: must name exactly one certificate ARN/,
      );
    });

    it('refuses a resource that is not an ACM certificate ARN', () => {
      const resources = ['arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/shop/1'];
      expect(refusal(acmEvent(undefined, { resources }))).toMatch(
        /^The ACM event is malformed: resources\.0: must be an ACM certificate ARN/,
      );
    });

    it("refuses a certificate ARN in another region than the event's", () => {
      const message = refusal(acmEvent(undefined, { resources: [arn('eu-central-1')] }));
      expect(message).toMatch(/^The ACM event is malformed: resources\[0\] /);
      expect(message).toContain(arn('eu-central-1'));
      expect(message).toContain("the event's region eu-west-1 and account 111122223333");
    });

    it("refuses a certificate ARN in another account than the event's", () => {
      const message = refusal(acmEvent(undefined, { resources: [arn('eu-west-1', '444455556666')] }));
      expect(message).toMatch(/^The ACM event is malformed: resources\[0\] /);
      expect(message).toContain(arn('eu-west-1', '444455556666'));
    });

    it('refuses an event from another account than the check acts on', () => {
      const event = acmEvent(undefined, {
        account: '444455556666',
        resources: [arn('eu-west-1', '444455556666')],
      });
      expect(refusal(event)).toBe(
        'The ACM event is from account 444455556666; this check acts only on account 111122223333',
      );
    });

    it('refuses a malformed account, naming the field', () => {
      expect(refusal(acmEvent(undefined, { account: '1234' }))).toMatch(
        /^The ACM event is malformed: account: must be a 12-digit account id/,
      );
    });

    it('refuses an event from a region the check does not read, pointing at certificates.regions', () => {
      const event = acmEvent(undefined, { region: 'ap-southeast-2', resources: [arn('ap-southeast-2')] });
      const message = refusal(event);
      expect(message).toMatch(/^The ACM event is from region ap-southeast-2, which the check does not read/);
      expect(message).toContain('(eu-west-1, us-east-1, eu-central-1)');
      expect(message).toContain('certificates.regions');
    });

    it('refuses a time that is not a timestamp, naming the field', () => {
      expect(refusal(acmEvent(undefined, { time: 'not-a-time' }))).toMatch(
        /^The ACM event is malformed: time: must be a timestamp/,
      );
    });

    it('refuses an event without an id, naming the field', () => {
      const event = acmEvent();
      delete event.id;
      expect(refusal(event)).toMatch(/^The ACM event is malformed: id: /);
    });

    it('refuses an event whose DaysToExpiry is not a number, naming the field', () => {
      expect(refusal(acmEvent(undefined, { detail: { DaysToExpiry: '31' } }))).toMatch(
        /^The ACM event is malformed: detail\.DaysToExpiry: /,
      );
    });

    it('reads any input with a source as an ACM event, so an unknown source is named', () => {
      expect(refusal({ source: 'aws.events' })).toMatch(/^The ACM event is malformed: .*source: /);
    });
  });
});

describe('checkedRegions', () => {
  it('lists its own region, then us-east-1, then the configured ones, each once', () => {
    expect(checkedRegions('eu-west-1', ['eu-central-1', 'eu-west-1'])).toEqual([
      'eu-west-1',
      'us-east-1',
      'eu-central-1',
    ]);
  });

  it('lists us-east-1 once when the stack runs there and it is configured too', () => {
    expect(checkedRegions('us-east-1', ['us-east-1', 'eu-west-1'])).toEqual(['us-east-1', 'eu-west-1']);
  });

  it('reads its own region and us-east-1 with nothing configured', () => {
    expect(checkedRegions('eu-west-1', [])).toEqual(['eu-west-1', 'us-east-1']);
  });
});
