import { App, Stack, Validations } from 'aws-cdk-lib';
import { Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { exampleConfig, synth } from './synth';

const variants: [string, () => Record<string, unknown>][] = [
  ['the example configuration', exampleConfig],
  [
    'an existing on-call topic and no e-mail',
    () => ({
      ...exampleConfig(),
      onCall: { existingTopicArn: 'arn:aws:sns:eu-west-1:123456789012:pagerduty' },
    }),
  ],
  [
    'mapped alarms only, two clusters, an account and a region',
    () => {
      const raw = exampleConfig();
      (raw.rollback as Record<string, unknown>).tagDiscoveryAlarmPrefixes = [];
      raw.eksClusters = [
        { name: 'prod-eks', namespaces: ['checkout', 'payments'] },
        { name: 'prod-eks-2', namespaces: ['search'] },
      ];
      return { ...raw, account: '123456789012', region: 'eu-west-1' };
    },
  ],
  [
    'tag discovery only, with two prefixes',
    () => {
      const raw = exampleConfig();
      Object.assign(raw.rollback as Record<string, unknown>, {
        targets: [],
        tagDiscoveryAlarmPrefixes: ['rollback-', 'team-a/rollback-'],
      });
      return raw;
    },
  ],
];

describe('cdk-nag AwsSolutions', () => {
  it.each(variants)('finds nothing unacknowledged with %s', (_name, raw) => {
    expect(synth(raw()).findings).toEqual([]);
  });

  it('acknowledges every finding with a reason a reviewer can check', () => {
    const { stack } = synth();
    const acknowledgements = stack.node
      .findAll()
      .flatMap((construct) => construct.node.metadata)
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>));
    expect(acknowledgements.length).toBeGreaterThan(0);
    for (const [id, reason] of acknowledgements) {
      expect(id).toMatch(/AwsSolutions-/);
      expect(reason.length, id).toBeGreaterThan(60);
    }
  });

  it('is live: an unacknowledged wildcard is reported', () => {
    const app = new App();
    const stack = new Stack(app, 'Careless');
    new Policy(stack, 'Careless', {
      statements: [new PolicyStatement({ actions: ['s3:*'], resources: ['*'] })],
    });
    const rules = new AwsSolutionsChecks()
      .validateScope(app)
      .violations.map((violation) => violation.ruleName);
    expect(rules).toEqual(
      expect.arrayContaining(['AwsSolutions-IAM5[Action::s3:*]', 'AwsSolutions-IAM5[Resource::*]']),
    );
  });
});
