import { App, Stack, Validations } from 'aws-cdk-lib';
import { Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { canaryApprovalEndpoint, canaryFunctions } from '../../lambdas/canary/functions';
import { RunbookFunction } from '../../lib/runbook-function';
import {
  controlTowerFindings,
  exampleConfig,
  functionEntries,
  STATE_MACHINE_COUNT,
  stackControlTowerFindings,
  synth,
  type Synthesized,
  vpcExampleConfig,
} from './synth';

/** The VPC example with its `network` section changed. */
const withNetwork = (network: Record<string, unknown>) => () => {
  const raw = vpcExampleConfig();
  return { ...raw, network: { ...(raw.network as Record<string, unknown>), ...network } };
};

/** The VPC example without internet access, with the example's certificate check added. */
const noInternetWithCertificates = () => ({
  ...withNetwork({ internetAccess: false, vpcCidr: '10.20.0.0/16' })(),
  certificates: exampleConfig().certificates,
});

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
    'an existing on-call topic encrypted with its own key',
    () => ({
      ...exampleConfig(),
      onCall: {
        existingTopicArn: 'arn:aws:sns:eu-west-1:123456789012:pagerduty',
        existingTopicKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d',
      },
    }),
  ],
  [
    'mapped alarms only, two clusters, an account and a region',
    () => {
      const raw = exampleConfig();
      (raw.rollback as Record<string, unknown>).tagDiscoveryAlarmPrefixes = [];
      raw.eksClusters = [
        { name: 'prod-eks', namespaces: ['checkout', 'payments', 'search'] },
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
  [
    'a canary of the replica-ratio router only, with a smoke test, no approval and no Slack app',
    () => ({
      ...exampleConfig(),
      slack: { webhookSecretName: 'platform-runbooks/slack-webhook' },
      canary: {
        services: [
          {
            name: 'payments',
            cluster: 'prod-eks',
            namespace: 'payments',
            stableDeployment: 'payments-worker',
            canaryDeployment: 'payments-worker-canary',
            router: { type: 'replica-ratio', totalReplicas: 10 },
            checks: [
              {
                name: 'error-rate',
                canary: {
                  type: 'metric',
                  metric: { namespace: 'Payments', metricName: 'Errors', stat: 'Sum' },
                },
                stable: {
                  type: 'metric',
                  metric: { namespace: 'Payments', metricName: 'Errors', stat: 'Sum' },
                },
                max: 5,
              },
            ],
            smokeTest: { url: 'https://smoke.example.com/payments' },
          },
        ],
      },
    }),
  ],
  ['the private-cluster example (VPC, NAT, endpoints created, restore tests, a canary)', vpcExampleConfig],
  [
    'restore tests of RDS instances only, without customer managed keys',
    () => {
      const raw = vpcExampleConfig();
      const section = raw.restoreTests as { databases: Record<string, unknown>[] };
      section.databases = section.databases.filter((database) => database.instance !== undefined);
      for (const database of section.databases) {
        delete database.kmsKeyArn;
        delete database.credentialsKmsKeyArn;
      }
      return raw;
    },
  ],
  [
    "a VPC without internet access, the stack's own security group and endpoints",
    withNetwork({ internetAccess: false, vpcCidr: '10.20.0.0/16' }),
  ],
  [
    'a VPC without internet access, with the certificate check (some of its steps stay outside)',
    noInternetWithCertificates,
  ],
  [
    "a VPC with the team's own security groups and no endpoints",
    withNetwork({
      securityGroupIds: ['sg-0aaaaaaaaaaaaaaa1', 'sg-0bbbbbbbbbbbbbbb2'],
      createEndpoints: false,
    }),
  ],
  [
    'logs kept 30 days in an existing key',
    () => ({
      ...exampleConfig(),
      logs: {
        retentionDays: 30,
        kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
      },
    }),
  ],
];

/** The Lambda placement acknowledgements: the service name of each function acknowledged, and the reason. */
function placementAcknowledgements(synthesized: Synthesized): [string, string][] {
  return synthesized.stack.node
    .findAll()
    .filter((construct): construct is RunbookFunction => construct instanceof RunbookFunction)
    .flatMap((fn) =>
      fn.node.metadata
        .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
        .filter(([id]) => id === 'cdk-validator-cfnguard::lambda_inside_vpc_check')
        .map(([, reason]): [string, string] => [fn.definition.serviceName, reason]),
    );
}

/** Every acknowledgement in the stack of a raw configuration (default: the example): rule id and reason. */
function acknowledgements(raw?: Record<string, unknown>): [string, string][] {
  return acknowledgementsIn(synth(raw));
}

/** Every acknowledgement in a synthesized stack: rule id and reason. */
function acknowledgementsIn(synthesized: Synthesized): [string, string][] {
  return synthesized.stack.node
    .findAll()
    .flatMap((construct) => construct.node.metadata)
    .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((entry) => Object.entries(entry.data as Record<string, string>));
}

describe("AWS's Control Tower proactive controls (cfn-guard)", () => {
  it.each(variants)('finds nothing unacknowledged with %s', (_name, raw) => {
    expect(stackControlTowerFindings(raw())).toEqual([]);
  });

  it('is live: a queue without a dead-letter queue or encryption is reported', () => {
    const rules = controlTowerFindings((app) => new Queue(new Stack(app, 'Careless'), 'Queue')).map(
      (finding) => finding.rule,
    );
    expect(rules).toEqual(
      expect.arrayContaining(['CT.SQS.PR.1 sqs_dlq_check', 'CT.SQS.PR.2 sqs_queue_encrypted_check']),
    );
  });

  it('is met, not acknowledged, for Lambda placement when the subnets reach the internet', () => {
    const ids = acknowledgements(vpcExampleConfig()).map(([id]) => id);
    expect(ids).not.toContain('cdk-validator-cfnguard::lambda_inside_vpc_check');
  });

  it('acknowledges Lambda placement outside a VPC only for the reason that applies', () => {
    const placement = ([id]: [string, string]) => id === 'cdk-validator-cfnguard::lambda_inside_vpc_check';
    // No network section: every Lambda, each once, and nothing else.
    const example = synth();
    const outside = acknowledgementsIn(example).filter(placement);
    expect(outside).toHaveLength(functionEntries.length);
    expect(
      placementAcknowledgements(example)
        .map(([name]) => name)
        .sort(),
    ).toEqual(functionEntries.map((entry) => entry.serviceName).sort());
    for (const [, reason] of outside) expect(reason).toMatch(/no network section/);

    // Without internet access: exactly the functions that reach the internet, which the subnets lack (the VPC
    // example's canary also has a smoke test, and no Slack app, so no approval endpoint).
    const withoutInternet = synth(noInternetWithCertificates());
    const reachInternet = [...functionEntries, canaryFunctions.smokeTest].filter(
      (entry) => entry.reaches.includes('internet') && entry !== canaryApprovalEndpoint,
    );
    expect(reachInternet.some((entry) => entry.serviceName.startsWith('certificates-'))).toBe(true);
    const noInternet = placementAcknowledgements(withoutInternet);
    expect(noInternet.map(([name]) => name).sort()).toEqual(
      reachInternet.map((entry) => entry.serviceName).sort(),
    );
    expect(acknowledgementsIn(withoutInternet).filter(placement)).toHaveLength(reachInternet.length);
    for (const [, reason] of noInternet) expect(reason).toMatch(/internetAccess: false/);
  });

  it("acknowledges a retention below a year as the configuration's choice, on every log group", () => {
    const shortRetention = synth({ ...exampleConfig(), logs: { retentionDays: 30 } });
    const retention = acknowledgementsIn(shortRetention).filter(
      ([id]) => id === 'cdk-validator-cfnguard::cloudwatch_log_group_retention_period_check',
    );
    // One per log group: each Lambda's and each state machine's.
    expect(retention).toHaveLength(functionEntries.length + STATE_MACHINE_COUNT);
    shortRetention.template.resourceCountIs('AWS::Logs::LogGroup', retention.length);
    for (const [, reason] of retention) expect(reason).toMatch(/retentionDays is 30/);
    expect(acknowledgements(exampleConfig()).map(([id]) => id)).not.toContain(
      'cdk-validator-cfnguard::cloudwatch_log_group_retention_period_check',
    );
  });
});

describe('cdk-nag AwsSolutions', () => {
  it.each(variants)('finds nothing unacknowledged with %s', (_name, raw) => {
    expect(synth(raw()).findings).toEqual([]);
  });

  it.each(variants)(
    'acknowledges every finding with a reason a reviewer can check, with %s',
    (_name, raw) => {
      const found = acknowledgements(raw());
      expect(found.length).toBeGreaterThan(0);
      for (const [id, reason] of found) {
        expect(id).toMatch(/^(Annotation::)?(AwsSolutions-|cdk-validator-cfnguard::)/);
        expect(reason.length, id).toBeGreaterThan(60);
      }
    },
  );

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
