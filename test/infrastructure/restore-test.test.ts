import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { restoredIdentifier } from '../../lambdas/restore-test/naming';
import { parseConfig } from '../../lib/config/load';
import { RESTORED_IDENTIFIER_PREFIX } from '../../lib/restore-test-runbook';
import { RunbooksStack } from '../../lib/runbooks-stack';
import { arnOf, idOf, localArn, present, ref } from './helpers';
import {
  asArray,
  exampleConfig,
  policyStatements,
  type Statement,
  synth,
  type Synthesized,
  vpcExampleConfig,
} from './synth';

const SUBNETS = ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'];
// lib/config/example-vpc.yaml: orders (an RDS instance, an encrypted snapshot) and payments (Aurora).
const ORDERS_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
const PAYMENTS_SECRET_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const SECRETS = [
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders/restore-check-AbCdEf',
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:payments/restore-check-GhIjKl',
];
const rds = (resource: string) => localArn('rds', resource);
const RESTORED = [rds('db:restore-test-*'), rds('cluster:restore-test-*')];
const TAGGED_REQUEST = { StringEquals: { 'aws:RequestTag/platform-runbooks:restore-test': 'prod' } };
const TAGGED_RESOURCE = { StringEquals: { 'aws:ResourceTag/platform-runbooks:restore-test': 'prod' } };
const regional = (service: string) => ({
  'Fn::Join': ['', [`${service}.`, { Ref: 'AWS::Region' }, '.amazonaws.com']],
});

/** The VPC example's restoreTests section, changed by `change`. */
function withRestoreTests(change: (section: Record<string, unknown>) => void): Record<string, unknown> {
  const raw = vpcExampleConfig();
  change(raw.restoreTests as Record<string, unknown>);
  return raw;
}

interface Resource {
  Properties: Record<string, unknown>;
}

/** A restore test Lambda by its service name. */
function functionOf(synthesized: Synthesized, serviceName: string): Resource {
  const found = Object.values(
    synthesized.template.findResources('AWS::Lambda::Function', {
      Properties: {
        Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: serviceName }) },
      },
    }),
  ) as Resource[];
  expect(found, serviceName).toHaveLength(1);
  return present(found[0], serviceName);
}

/** Every statement with an action matching `pattern`. */
const statementsWith = (synthesized: Synthesized, pattern: RegExp): Statement[] =>
  policyStatements(synthesized.template)
    .map(({ statement }) => statement)
    .filter((statement) => asArray(statement.Action).some((action) => pattern.test(action)));

describe('the backup-restore test', () => {
  let synthesized: Synthesized;
  const runbook = () => present(synthesized.stack.restoreTests, 'the restore test');
  const groupId = (construct: Parameters<typeof idOf>[1]) => ({
    'Fn::GetAtt': [idOf(synthesized, construct), 'GroupId'],
  });
  beforeAll(() => {
    synthesized = synth(vpcExampleConfig());
  });

  describe('its schedules', () => {
    it("starts each database on its own schedule in its time zone, naming the database and Scheduler's scheduled time", () => {
      const target = (database: string) =>
        Match.objectLike({
          Arn: ref(idOf(synthesized, runbook().workflow.stateMachine)),
          // Scheduler fills in the placeholder: two deliveries of one start name the same run.
          Input: JSON.stringify({
            task: 'restore-test',
            database,
            scheduledTime: '<aws.scheduler.scheduled-time>',
          }),
          RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 7200 },
          DeadLetterConfig: { Arn: arnOf(idOf(synthesized, runbook().workflow.deadLetterQueue)) },
        });
      synthesized.template.hasResourceProperties('AWS::Scheduler::Schedule', {
        Name: 'platform-runbooks-prod-restore-test',
        ScheduleExpression: 'cron(0 3 1 * ? *)',
        ScheduleExpressionTimezone: 'Europe/Berlin',
        Target: target('orders'),
      });
      synthesized.template.hasResourceProperties('AWS::Scheduler::Schedule', {
        Name: 'platform-runbooks-prod-restore-test-2',
        ScheduleExpression: 'cron(0 4 15 * ? *)',
        ScheduleExpressionTimezone: 'Europe/Berlin',
        Target: target('payments'),
      });
    });

    it('runs the janitor on its own schedule, with the janitor task as input', () => {
      synthesized.template.hasResourceProperties('AWS::Scheduler::Schedule', {
        Name: 'platform-runbooks-prod-restore-test-3',
        ScheduleExpression: 'rate(1 hour)',
        Target: Match.objectLike({
          Arn: ref(idOf(synthesized, runbook().workflow.stateMachine)),
          Input: JSON.stringify({ task: 'janitor' }),
        }),
      });
      expect(runbook().workflow.schedules).toHaveLength(3);
      expect(runbook().workflow.rules).toHaveLength(0);
    });
  });

  describe('its workflow', () => {
    it('is stopped after the slowest restore and 90 minutes more, and receives the databases and poll interval', () => {
      const [machine] = Object.values(
        synthesized.template.findResources('AWS::StepFunctions::StateMachine', {
          Properties: { StateMachineName: 'platform-runbooks-prod-restore-test' },
        }),
      ) as Resource[];
      const properties = present(machine, 'the state machine').Properties;
      const definition = JSON.parse(properties.DefinitionString as string) as { TimeoutSeconds: number };
      // example-vpc.yaml: both databases keep the default availableTimeoutMinutes, 120.
      expect(definition.TimeoutSeconds).toBe((120 + 90) * 60);
      const substitutions = properties.DefinitionSubstitutions as Record<string, unknown>;
      expect(substitutions.PollSeconds).toBe('60');
      const databases = JSON.parse(JSON.parse(`"${String(substitutions.Databases)}"`) as string) as Record<
        string,
        { instance?: string; cluster?: string }
      >;
      expect(Object.keys(databases)).toEqual(['orders', 'payments']);
      expect(databases.payments?.cluster).toBe('payments-aurora-prod');
    });

    it('may invoke all seven of its functions and the notifier', () => {
      const invoke = statementsWith(synthesized, /^lambda:InvokeFunction$/).find((statement) =>
        JSON.stringify(statement.Resource).includes(idOf(synthesized, runbook().janitorFunction)),
      );
      const functions = [
        runbook().prepareFunction,
        runbook().restoreFunction,
        runbook().checkRestoreFunction,
        runbook().validateFunction,
        runbook().cleanupFunction,
        runbook().reportFunction,
        runbook().janitorFunction,
      ];
      for (const fn of functions) {
        expect(asArray(present(invoke, 'the invoke statement').Resource)).toContainEqual(
          arnOf(idOf(synthesized, fn)),
        );
      }
    });

    it('outputs its state machine, and the reports bucket once', () => {
      synthesized.template.hasOutput('RestoreTestStateMachineArn', {
        Value: ref(idOf(synthesized, runbook().workflow.stateMachine)),
      });
      synthesized.template.hasOutput('ReportsBucketName', {
        Value: ref(idOf(synthesized, runbook().reports.bucket)),
      });
      // With the certificate check too (the example has the right-sizing report): still one bucket and one output.
      const both = synth({ ...vpcExampleConfig(), certificates: exampleConfig().certificates });
      expect(both.stack.certificates?.reports).toBe(both.stack.restoreTests?.reports);
      expect(both.stack.rightsizing?.reports).toBe(both.stack.restoreTests?.reports);
      expect(Object.keys(both.template.findOutputs('ReportsBucketName'))).toEqual(['ReportsBucketName']);
      both.template.resourceCountIs('AWS::S3::Bucket', 2);
    });
  });

  describe('its network', () => {
    it('restores into a DB subnet group over the configured subnets, behind the restored-instance group', () => {
      synthesized.template.hasResourceProperties('AWS::RDS::DBSubnetGroup', {
        DBSubnetGroupName: 'platform-runbooks-prod-restore-test',
        SubnetIds: SUBNETS,
      });
      const restore = functionOf(synthesized, 'restore-test-restore');
      expect(restore.Properties.Environment).toEqual({
        Variables: expect.objectContaining({
          ENVIRONMENT_NAME: 'prod',
          DB_SUBNET_GROUP_NAME: ref(idOf(synthesized, runbook().subnetGroup)),
          DB_SECURITY_GROUP_ID: groupId(runbook().restoredSecurityGroup),
        }) as unknown,
      });
    });

    it('lets nothing out of the restored instances, and only the validator group in, on the database port', () => {
      synthesized.template.hasResourceProperties('AWS::EC2::SecurityGroup', {
        GroupDescription: Match.stringLikeRegexp('restored instances'),
        // CDK's rule for "no egress": a single address and an ICMP type that match nothing.
        SecurityGroupEgress: [
          {
            CidrIp: '255.255.255.255/32',
            Description: 'Disallow all traffic',
            FromPort: 252,
            IpProtocol: 'icmp',
            ToPort: 86,
          },
        ],
        SecurityGroupIngress: Match.absent(),
      });
      const restored = groupId(runbook().restoredSecurityGroup);
      const validator = groupId(runbook().validatorSecurityGroup);
      const rules = (type: string, group: unknown) =>
        Object.values(synthesized.template.findResources(type))
          .map((resource) => (resource as Resource).Properties)
          .filter((rule) => JSON.stringify(rule.GroupId) === JSON.stringify(group));
      expect(rules('AWS::EC2::SecurityGroupIngress', restored)).toEqual([
        expect.objectContaining({
          SourceSecurityGroupId: validator,
          IpProtocol: 'tcp',
          FromPort: 5432,
          ToPort: 5432,
        }),
      ]);
      // The validator group reaches the restored instances and nothing else.
      expect(rules('AWS::EC2::SecurityGroupEgress', validator)).toEqual([
        expect.objectContaining({
          DestinationSecurityGroupId: restored,
          IpProtocol: 'tcp',
          FromPort: 5432,
          ToPort: 5432,
        }),
      ]);
      synthesized.template.hasResourceProperties('AWS::EC2::SecurityGroup', {
        GroupDescription: Match.stringLikeRegexp('validation Lambda'),
        SecurityGroupEgress: Match.absent(),
        SecurityGroupIngress: Match.absent(),
      });
    });

    it('opens each distinct database port once', () => {
      const ports = synth(
        withRestoreTests((section) => {
          const [orders, payments] = section.databases as Record<string, unknown>[];
          section.databases = [orders, { ...payments, port: 5433 }, { ...orders, name: 'orders-copy' }];
        }),
      );
      const restored = ports.stack.restoreTests?.restoredSecurityGroup;
      const ingress = Object.values(ports.template.findResources('AWS::EC2::SecurityGroupIngress'))
        .map((resource) => (resource as Resource).Properties)
        .filter((rule) => JSON.stringify(rule.GroupId).includes(idOf(ports, present(restored, 'the group'))))
        .map((rule) => rule.FromPort);
      expect(ingress).toEqual([5432, 5433]);
    });

    it('runs the validation in the VPC with the validator group besides the shared one, and only the validation', () => {
      const network = present(synthesized.stack.network, 'the network');
      const shared = groupId(present(network.functionSecurityGroup, 'the function group'));
      const validate = functionOf(synthesized, 'restore-test-validate');
      expect(validate.Properties.VpcConfig).toEqual({
        SubnetIds: SUBNETS,
        SecurityGroupIds: [shared, groupId(runbook().validatorSecurityGroup)],
      });
      expect(validate.Properties.Environment).toEqual({
        Variables: expect.objectContaining({ CA_BUNDLE_PATH: '/var/runtime/ca-cert.pem' }) as unknown,
      });
      for (const step of ['prepare', 'restore', 'check-restore', 'cleanup', 'report', 'janitor']) {
        expect(functionOf(synthesized, `restore-test-${step}`).Properties.VpcConfig, step).toEqual({
          SubnetIds: SUBNETS,
          SecurityGroupIds: [shared],
        });
      }
    });

    it('lets the validation role create its network interfaces in the validator group, and in no other', () => {
      const [create] = statementsWith(synthesized, /^ec2:CreateNetworkInterface$/);
      const resources = JSON.stringify(present(create, 'the ENI statement').Resource);
      expect(resources).toContain(idOf(synthesized, runbook().validatorSecurityGroup));
      expect(resources).not.toContain(idOf(synthesized, runbook().restoredSecurityGroup));
    });

    it('creates the RDS endpoint the VPC-placed steps call', () => {
      expect(present(synthesized.stack.network, 'the network').interfaceEndpoints.has('rds')).toBe(true);
    });
  });

  describe('its permissions', () => {
    it('grants no action wildcard anywhere', () => {
      const actions = policyStatements(synthesized.template).flatMap(({ statement }) =>
        asArray(statement.Action),
      );
      expect(actions.filter((action) => action === '*' || action.endsWith('*'))).toEqual([]);
    });

    it('gives each step its own role', () => {
      const roles = [
        runbook().prepareFunction,
        runbook().restoreFunction,
        runbook().checkRestoreFunction,
        runbook().validateFunction,
        runbook().cleanupFunction,
        runbook().reportFunction,
        runbook().janitorFunction,
      ].map((fn) => fn.role?.roleArn);
      expect(new Set(roles).size).toBe(7);
    });

    it('deletes only restore-test-* instances and clusters tagged as this environment’s restore test', () => {
      const deletes = statementsWith(synthesized, /^rds:Delete/);
      // The cleanup step's and the janitor's.
      expect(deletes).toHaveLength(2);
      for (const statement of deletes) {
        expect(statement.Action).toEqual(['rds:DeleteDBInstance', 'rds:DeleteDBCluster']);
        expect(statement.Resource).toEqual(RESTORED);
        expect(statement.Condition).toEqual(TAGGED_RESOURCE);
      }
      synthesized.template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [ref(idOf(synthesized, runbook().cleanupRole))],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Action: ['rds:DeleteDBInstance', 'rds:DeleteDBCluster'] }),
          ]),
        },
      });
    });

    it('creates only tagged restore-test-* copies, and reads the sources only to restore from them', () => {
      const creates = statementsWith(synthesized, /^rds:(Restore|CreateDBInstance$|AddTagsToResource$)/);
      expect(creates.length).toBeGreaterThan(0);
      const allowed = new Set(
        [...RESTORED, rds('db:orders-prod'), rds('cluster:payments-aurora-prod')].map((arn) =>
          JSON.stringify(arn),
        ),
      );
      for (const statement of creates) {
        // Every one needs the marker tag in the request, whatever resource it names.
        expect(statement.Condition).toMatchObject(TAGGED_REQUEST);
        const instancesAndClusters = asArray(statement.Resource).filter((resource) =>
          /:(db|cluster):/.test(JSON.stringify(resource)),
        );
        for (const resource of instancesAndClusters) expect(allowed).toContain(JSON.stringify(resource));
      }
      // The copies themselves are created and tagged only under restore-test-*; an instance only private.
      const targets = creates.filter((statement) =>
        asArray(statement.Resource).every((resource) =>
          RESTORED.some((arn) => JSON.stringify(arn) === JSON.stringify(resource)),
        ),
      );
      expect(targets.flatMap((statement) => asArray(statement.Action)).sort()).toEqual(
        [
          'rds:AddTagsToResource',
          'rds:CreateDBInstance',
          'rds:CreateDBInstance',
          'rds:RestoreDBClusterFromSnapshot',
          'rds:RestoreDBClusterToPointInTime',
          'rds:RestoreDBInstanceFromDBSnapshot',
          'rds:RestoreDBInstanceToPointInTime',
        ].sort(),
      );
      expect(
        targets.find((statement) => asArray(statement.Action).includes('rds:RestoreDBInstanceFromDBSnapshot'))
          ?.Condition,
      ).toEqual({ ...TAGGED_REQUEST, BoolIfExists: { 'rds:PubliclyAccessible': 'false' } });
      // The source side: the configured sources, their snapshots, the subnet group, RDS's default groups.
      const sources = creates.find((statement) => statement.Sid === 'RestoreFromTheSources');
      expect(present(sources, 'the sources statement').Resource).toEqual([
        rds('db:orders-prod'),
        rds('snapshot:*'),
        rds('cluster:payments-aurora-prod'),
        rds('cluster-snapshot:*'),
        rds('subgrp:platform-runbooks-prod-restore-test'),
        rds('og:default:*'),
        rds('pg:default.*'),
        rds('cluster-pg:default.*'),
      ]);
    });

    it('grants on the same prefix the steps name their copies with', () => {
      expect(restoredIdentifier('orders-prod', 'arn:aws:states:…:execution:x:y')).toMatch(
        new RegExp(`^${RESTORED_IDENTIFIER_PREFIX}`),
      );
    });

    it('lets RDS, and only RDS, use exactly the configured snapshot key', () => {
      const grants = statementsWith(synthesized, /^kms:CreateGrant$/);
      expect(grants).toEqual([
        expect.objectContaining({
          Action: 'kms:CreateGrant',
          Resource: ORDERS_KEY,
          Condition: {
            Bool: { 'kms:GrantIsForAWSResource': 'true' },
            StringEquals: { 'kms:ViaService': regional('rds') },
          },
        }),
      ]);
      expect(statementsWith(synthesized, /^kms:DescribeKey$/)).toEqual([
        expect.objectContaining({ Resource: ORDERS_KEY }),
      ]);
    });

    it('reads exactly the configured credential secrets, in the validation step only', () => {
      const reads = statementsWith(synthesized, /^secretsmanager:GetSecretValue$/).filter((statement) =>
        JSON.stringify(statement.Resource).includes('restore-check'),
      );
      expect(reads).toEqual([expect.objectContaining({ Resource: SECRETS })]);
      synthesized.template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [ref(idOf(synthesized, runbook().validateRole))],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Action: 'secretsmanager:GetSecretValue', Resource: SECRETS }),
            Match.objectLike({
              Action: 'kms:Decrypt',
              Resource: PAYMENTS_SECRET_KEY,
              Condition: { StringEquals: { 'kms:ViaService': regional('secretsmanager') } },
            }),
          ]),
        },
      });
    });

    it('lists every instance and cluster only to the janitor, and only to describe them', () => {
      const everything = [rds('db:*'), rds('cluster:*')].map((arn) => JSON.stringify(arn));
      const policies = synthesized.template.findResources('AWS::IAM::Policy');
      const listing = policyStatements(synthesized.template)
        .filter(({ statement }) =>
          asArray(statement.Resource).some((resource) => everything.includes(JSON.stringify(resource))),
        )
        .map(({ policy, statement }) => ({
          roles: present(policies[policy], policy).Properties.Roles as unknown,
          actions: statement.Action,
        }));
      // Besides the janitor, in the example only the right-sizing report's compute step, which sizes every
      // RDS instance (rightsizing-report.test.ts): describing, too.
      const rightsizing = present(synthesized.stack.rightsizing, 'the right-sizing report');
      const describing = ['rds:DescribeDBInstances', 'rds:DescribeDBClusters'];
      const byRole = (a: { roles: unknown }, b: { roles: unknown }) =>
        JSON.stringify(a.roles).localeCompare(JSON.stringify(b.roles));
      expect(listing.sort(byRole)).toEqual(
        [
          { roles: [ref(idOf(synthesized, runbook().janitorRole))], actions: describing },
          { roles: [ref(idOf(synthesized, rightsizing.collectComputeRole))], actions: describing },
        ].sort(byRole),
      );
      synthesized.template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [ref(idOf(synthesized, runbook().janitorRole))],
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Sid: 'ListInstancesAndClusters' })]),
        },
      });
    });

    it('reads and writes only its prefixes of the reports bucket', () => {
      const s3 = statementsWith(synthesized, /^s3:/).filter((statement) =>
        JSON.stringify(statement).includes('restore-test/'),
      );
      const grants = s3.map(
        (statement) => `${asArray(statement.Action).join(',')} ${JSON.stringify(statement.Resource)}`,
      );
      expect(grants.filter((grant) => grant.startsWith('s3:PutObject'))).toEqual([
        expect.stringContaining('restore-test/reports/*'),
        expect.stringContaining('restore-test/history/*'),
      ]);
      // The prepare step and the report read the history.
      expect(grants.filter((grant) => grant.startsWith('s3:GetObject'))).toEqual([
        expect.stringContaining('restore-test/history/*'),
        expect.stringContaining('restore-test/history/*'),
      ]);
      synthesized.template.hasResourceProperties('AWS::S3::Bucket', {
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({
              Prefix: 'restore-test/reports/',
              ExpirationInDays: 400,
              Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }],
            }),
          ]),
        },
      });
    });

    it('grants no cluster permission to restore when no cluster is configured, and no KMS without keys', () => {
      const instancesOnly = synth(
        withRestoreTests((section) => {
          const [orders] = section.databases as Record<string, unknown>[];
          section.databases = [{ ...orders, kmsKeyArn: undefined }];
        }),
      );
      const restoreRole = idOf(
        instancesOnly,
        present(instancesOnly.stack.restoreTests, 'the runbook').restoreRole,
      );
      const restorePolicy = Object.values(
        instancesOnly.template.findResources('AWS::IAM::Policy', {
          Properties: { Roles: [ref(restoreRole)] },
        }),
      ).map((resource) => JSON.stringify(resource));
      expect(restorePolicy.join()).not.toMatch(/RestoreDBCluster|cluster:|kms:/);
      expect(statementsWith(instancesOnly, /^kms:CreateGrant$/)).toEqual([]);
    });
  });

  describe('its alarms', () => {
    const alarm = (
      name: string,
      metricName: string,
      threshold: number,
      operator: string,
      database: string,
    ) => ({
      AlarmName: `platform-runbooks-prod-restore-test-${database}-${name}`,
      Namespace: 'PlatformRunbooks/RestoreTest',
      MetricName: metricName,
      Dimensions: [
        { Name: 'Database', Value: database },
        { Name: 'Environment', Value: 'prod' },
      ],
      Statistic: 'Maximum',
      Period: 3600,
      Threshold: threshold,
      ComparisonOperator: operator,
      EvaluationPeriods: 1,
      // Runs are monthly: an hour without one is not a failure.
      TreatMissingData: 'notBreaching',
      AlarmActions: [ref(idOf(synthesized, synthesized.stack.onCall.topic))],
    });

    it('pages on a failed test and a missed RTO or RPO target, per database, and not twice for a copy left behind', () => {
      const template = synthesized.template;
      for (const database of ['orders', 'payments']) {
        template.hasResourceProperties(
          'AWS::CloudWatch::Alarm',
          alarm('failed', 'RestoreTestFailed', 1, 'GreaterThanOrEqualToThreshold', database),
        );
        // A copy left behind pages once, from the workflow itself with the delete command (PageLeftBehind):
        // an alarm on LeftBehind would page a second time for the same copy.
        expect(
          Object.values(template.findResources('AWS::CloudWatch::Alarm')).some(
            (resource) => (resource.Properties as { MetricName?: string }).MetricName === 'LeftBehind',
          ),
        ).toBe(false);
      }
      // example-vpc.yaml: orders 120 and 1560 minutes, payments 90 and 30.
      template.hasResourceProperties(
        'AWS::CloudWatch::Alarm',
        alarm('rto', 'RtoSeconds', 7200, 'GreaterThanThreshold', 'orders'),
      );
      template.hasResourceProperties(
        'AWS::CloudWatch::Alarm',
        alarm('rpo', 'RpoSeconds', 93_600, 'GreaterThanThreshold', 'orders'),
      );
      template.hasResourceProperties(
        'AWS::CloudWatch::Alarm',
        alarm('rto', 'RtoSeconds', 5400, 'GreaterThanThreshold', 'payments'),
      );
      template.hasResourceProperties(
        'AWS::CloudWatch::Alarm',
        alarm('rpo', 'RpoSeconds', 1800, 'GreaterThanThreshold', 'payments'),
      );
      expect([...runbook().alarms.keys()]).toEqual(['orders', 'payments']);
    });

    it('has no RTO or RPO alarm for a database without targets', () => {
      const noTargets = synth(
        withRestoreTests((section) => {
          for (const database of section.databases as Record<string, unknown>[]) delete database.targets;
        }),
      );
      const alarms = present(noTargets.stack.restoreTests, 'the runbook').alarms;
      for (const created of alarms.values()) {
        expect(created.rto).toBeUndefined();
        expect(created.rpo).toBeUndefined();
        expect(created.failed).toBeDefined();
      }
      const names = Object.values(noTargets.template.findResources('AWS::CloudWatch::Alarm')).map(
        (resource) => (resource as Resource).Properties.AlarmName,
      );
      expect(names.filter((name) => /restore-test-.*-(rto|rpo)$/.test(String(name)))).toEqual([]);
    });
  });

  it('refuses to be built without a network, which the configuration check refuses first', () => {
    const config = parseConfig(vpcExampleConfig(), 'test configuration');
    const withoutNetwork = { ...config };
    delete withoutNetwork.network;
    expect(
      () =>
        new RunbooksStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'NoNetwork', {
          config: withoutNetwork,
        }),
    ).toThrow(/The restore test needs a network section/);
  });
});
