import { readFileSync } from 'node:fs';
import { Validations } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { rightsizingFunctions } from '../../lambdas/rightsizing/functions';
import { REPORTS_PREFIX, RUNS_PREFIX } from '../../lambdas/rightsizing/parts';
import { rightsizingRuntime, rightsizingSectionSchema } from '../../lib/config/rightsizing';
import type { RightsizingReportRunbook } from '../../lib/rightsizing-report-runbook';
import { arnOf, idOf, localArn, present, ref } from './helpers';
import {
  asArray,
  exampleConfig,
  policyStatements,
  type Statement,
  stackControlTowerFindings,
  synth,
  type Synthesized,
  vpcExampleConfig,
} from './synth';

/** The `rightsizing:` section of the example configuration, a fresh copy each time. */
function exampleSection(): Record<string, unknown> {
  const text = readFileSync(new URL('../../lib/config/example.yaml', import.meta.url), 'utf8');
  return (parse(text) as { rightsizing: Record<string, unknown> }).rightsizing;
}

/** A raw configuration with the example rightsizing section, changed by `change`. */
function withRightsizing(
  base: Record<string, unknown>,
  change: (section: Record<string, unknown>) => void = () => undefined,
): Record<string, unknown> {
  const section = exampleSection();
  change(section);
  return { ...base, rightsizing: section };
}

/** The VPC example without internet access (the stack's own group, egress to the VPC only). */
const noInternet = (): Record<string, unknown> => {
  const raw = vpcExampleConfig();
  return {
    ...raw,
    network: { ...(raw.network as Record<string, unknown>), internetAccess: false, vpcCidr: '10.20.0.0/16' },
  };
};

interface Resource {
  Properties: Record<string, unknown>;
  DependsOn?: string[];
}

const functionEntries = Object.values(rightsizingFunctions);

/** A right-sizing Lambda by its service name. */
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

const runbookOf = (synthesized: Synthesized): RightsizingReportRunbook =>
  present(synthesized.stack.rightsizing, 'the right-sizing report');

/** Every statement of the policies attached to `role`. */
function statementsOf(synthesized: Synthesized, role: Parameters<typeof idOf>[1]): Statement[] {
  const roleRef = JSON.stringify(ref(idOf(synthesized, role)));
  return Object.values(synthesized.template.findResources('AWS::IAM::Policy')).flatMap((resource) => {
    const properties = (resource as Resource).Properties;
    const roles = (properties.Roles as unknown[]).map((entry) => JSON.stringify(entry));
    return roles.includes(roleRef)
      ? ((properties.PolicyDocument as { Statement: Statement[] }).Statement as Statement[])
      : [];
  });
}

/** The actions of a role's statements, sorted, without the logs and tracing every function gets. */
const ownActions = (statements: Statement[]): string[] =>
  [
    ...new Set(
      statements
        .flatMap((statement) => asArray(statement.Action))
        .filter((action) => !action.startsWith('logs:') && !action.startsWith('xray:')),
    ),
  ].sort();

/** The statements granting `action`. */
const granting = (statements: Statement[], action: string): Statement[] =>
  statements.filter((statement) => asArray(statement.Action).includes(action));

const rds = (resource: string) => localArn('rds', resource);
const EKS_VIEW = {
  'Fn::Join': [
    '',
    ['arn:', { Ref: 'AWS::Partition' }, ':eks::aws:cluster-access-policy/AmazonEKSViewPolicy'],
  ],
};

describe('the cost right-sizing report', () => {
  let synthesized: Synthesized;
  const runbook = () => runbookOf(synthesized);
  beforeAll(() => {
    synthesized = synth(withRightsizing(exampleConfig()));
  });

  describe('its schedule', () => {
    it('starts the workflow weekly in the configured time zone, with {} as input, a retry policy and the dead-letter queue', () => {
      synthesized.template.hasResourceProperties('AWS::Scheduler::Schedule', {
        Name: 'platform-runbooks-prod-rightsizing',
        ScheduleExpression: 'cron(0 6 ? * MON *)',
        ScheduleExpressionTimezone: 'Europe/Berlin',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: Match.objectLike({
          Arn: ref(idOf(synthesized, runbook().workflow.stateMachine)),
          Input: '{}',
          RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 7200 },
          DeadLetterConfig: { Arn: arnOf(idOf(synthesized, runbook().workflow.deadLetterQueue)) },
        }),
      });
      expect(runbook().workflow.schedules).toHaveLength(1);
      expect(runbook().workflow.rules).toHaveLength(0);
    });

    it('defaults to Monday 06:00 UTC', () => {
      const defaults = synth({ ...exampleConfig(), rightsizing: {} });
      defaults.template.hasResourceProperties('AWS::Scheduler::Schedule', {
        Name: 'platform-runbooks-prod-rightsizing',
        ScheduleExpression: 'cron(0 6 ? * MON *)',
        ScheduleExpressionTimezone: 'UTC',
      });
    });
  });

  describe('its workflow', () => {
    const machine = (from: Synthesized = synthesized) => {
      const [resource] = Object.values(
        from.template.findResources('AWS::StepFunctions::StateMachine', {
          Properties: { StateMachineName: 'platform-runbooks-prod-rightsizing' },
        }),
      ) as Resource[];
      return present(resource, 'the state machine').Properties;
    };
    const substitution = (key: string, from: Synthesized = synthesized): unknown =>
      JSON.parse(
        JSON.parse(
          `"${String((machine(from).DefinitionSubstitutions as Record<string, unknown>)[key])}"`,
        ) as string,
      );

    it('is stopped after 60 minutes', () => {
      const definition = JSON.parse(machine().DefinitionString as string) as { TimeoutSeconds: number };
      expect(definition.TimeoutSeconds).toBe(3600);
    });

    it('receives the settings the steps read, as rightsizingRuntime writes them', () => {
      const section = rightsizingSectionSchema.parse(exampleSection());
      const expected = rightsizingRuntime({ settings: section, clusters: [] }).substitutions
        .RightsizingSettings;
      expect((machine().DefinitionSubstitutions as Record<string, unknown>).RightsizingSettings).toBe(
        expected,
      );
      expect(substitution('RightsizingSettings')).toEqual({
        lookbackDays: 14,
        periodSeconds: 300,
        strategy: {
          cpuPercentile: 95,
          memoryMarginPercent: 15,
          minCpuMillicores: 25,
          minMemoryMiB: 250,
          minDatapoints: 100,
          hpa: 'skip',
          tolerancePercent: 10,
        },
        ec2: true,
        rds: true,
        topN: 10,
        linkExpiryHours: 12,
      });
    });

    it('maps over exactly the configured clusters, with their namespaces', () => {
      expect(substitution('RightsizingClusters')).toEqual([
        { name: 'prod-eks', namespaces: ['checkout', 'payments', 'search'] },
      ]);
      expect(runbook().clusters.map((cluster) => cluster.name)).toEqual(['prod-eks']);
      // Without `clusters`: every cluster of eksClusters.
      const everyCluster = synth(
        withRightsizing(
          {
            ...exampleConfig(),
            eksClusters: [
              { name: 'prod-eks', namespaces: ['checkout', 'payments', 'search'] },
              { name: 'tools-eks', namespaces: ['ingress'] },
            ],
          },
          (section) => delete section.clusters,
        ),
      );
      expect(substitution('RightsizingClusters', everyCluster)).toEqual([
        { name: 'prod-eks', namespaces: ['checkout', 'payments', 'search'] },
        { name: 'tools-eks', namespaces: ['ingress'] },
      ]);
    });

    it('substitutes its three functions and the notifier, and may invoke them', () => {
      const substitutions = machine().DefinitionSubstitutions as Record<string, unknown>;
      const functions = [
        runbook().collectWorkloadsFunction,
        runbook().collectComputeFunction,
        runbook().reportFunction,
      ];
      for (const fn of functions) {
        expect(substitutions[fn.definition.substitution], fn.definition.substitution).toEqual(
          arnOf(idOf(synthesized, fn)),
        );
      }
      expect(substitutions.NotifySlackFunctionArn).toBeDefined();
      const invoke = policyStatements(synthesized.template)
        .map(({ statement }) => statement)
        .find(
          (statement) =>
            asArray(statement.Action).includes('lambda:InvokeFunction') &&
            JSON.stringify(statement.Resource).includes(idOf(synthesized, runbook().reportFunction)),
        );
      for (const fn of functions) {
        expect(asArray(present(invoke, 'the invoke statement').Resource)).toContainEqual(
          arnOf(idOf(synthesized, fn)),
        );
      }
    });

    it('outputs its state machine, and the reports bucket once, shared with the certificate check', () => {
      synthesized.template.hasOutput('RightsizingStateMachineArn', {
        Value: ref(idOf(synthesized, runbook().workflow.stateMachine)),
      });
      expect(runbook().reports).toBe(synthesized.stack.certificates?.reports);
      expect(Object.keys(synthesized.template.findOutputs('ReportsBucketName'))).toEqual([
        'ReportsBucketName',
      ]);
      synthesized.template.resourceCountIs('AWS::S3::Bucket', 2);
      // Alone, it creates the bucket and its output.
      const alone = synth(withRightsizing({ ...exampleConfig(), certificates: undefined }));
      alone.template.hasOutput('ReportsBucketName', {
        Value: ref(idOf(alone, runbookOf(alone).reports.bucket)),
      });
    });

    it('is not deployed without its section', () => {
      // The example configuration has the section: take it out.
      const raw = exampleConfig();
      expect(raw.rightsizing).toBeDefined();
      delete raw.rightsizing;
      const without = synth(raw);
      expect(without.stack.rightsizing).toBeUndefined();
      expect(without.template.findOutputs('RightsizingStateMachineArn')).toEqual({});
      expect(
        Object.keys(
          without.template.findResources('AWS::StepFunctions::StateMachine', {
            Properties: { StateMachineName: 'platform-runbooks-prod-rightsizing' },
          }),
        ),
      ).toEqual([]);
      const services = Object.values(without.template.findResources('AWS::Lambda::Function')).map(
        (fn) =>
          ((fn as Resource).Properties.Environment as { Variables: Record<string, string> }).Variables
            .POWERTOOLS_SERVICE_NAME,
      );
      for (const entry of functionEntries) expect(services).not.toContain(entry.serviceName);
    });
  });

  describe('its functions', () => {
    it.each(functionEntries.map((entry) => [entry.serviceName, entry] as const))(
      'deploys %s with the memory and timeout of the function table, and the bucket and environment',
      (serviceName, entry) => {
        const properties = functionOf(synthesized, serviceName).Properties;
        expect(properties.MemorySize).toBe(entry.memoryMb);
        expect(properties.Timeout).toBe(entry.timeoutSeconds);
        expect(properties.Environment).toEqual({
          Variables: expect.objectContaining({
            REPORT_BUCKET: ref(idOf(synthesized, runbook().reports.bucket)),
            ENVIRONMENT_NAME: 'prod',
          }) as unknown,
        });
      },
    );

    it('gives each step its own role', () => {
      const roles = [
        runbook().collectWorkloadsFunction,
        runbook().collectComputeFunction,
        runbook().reportFunction,
      ].map((fn) => idOf(synthesized, present(fn.role, 'the role')));
      expect(new Set(roles).size).toBe(3);
    });

    it('keeps the runs 7 days and the reports reportRetentionDays, archived after 90', () => {
      synthesized.template.hasResourceProperties('AWS::S3::Bucket', {
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({ Prefix: RUNS_PREFIX, ExpirationInDays: 7 }),
            Match.objectLike({
              Prefix: REPORTS_PREFIX,
              ExpirationInDays: 400,
              Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }],
            }),
          ]),
        },
      });
    });
  });

  describe('its permissions', () => {
    const bucketKey = () => arnOf(idOf(synthesized, runbook().reports.key));
    const objects = (prefix: string) => ({
      'Fn::Join': ['', [arnOf(idOf(synthesized, runbook().reports.bucket)), `/${prefix}*`]],
    });

    it('grants no action wildcard anywhere', () => {
      const actions = policyStatements(synthesized.template).flatMap(({ statement }) =>
        asArray(statement.Action),
      );
      expect(actions.filter((action) => action === '*' || action.includes('*'))).toEqual([]);
    });

    it('lets the workloads collector read its clusters, the metrics, and write only the runs', () => {
      const statements = statementsOf(synthesized, runbook().workloadsAccess.role);
      expect(ownActions(statements)).toEqual([
        'cloudwatch:GetMetricData',
        'eks:DescribeCluster',
        'kms:GenerateDataKey',
        's3:PutObject',
      ]);
      expect(granting(statements, 'eks:DescribeCluster').map((statement) => statement.Resource)).toEqual([
        localArn('eks', 'cluster/prod-eks'),
      ]);
      expect(granting(statements, 'cloudwatch:GetMetricData').map((statement) => statement.Resource)).toEqual(
        ['*'],
      );
      expect(granting(statements, 's3:PutObject').map((statement) => statement.Resource)).toEqual([
        objects(RUNS_PREFIX),
      ]);
      expect(granting(statements, 'kms:GenerateDataKey').map((statement) => statement.Resource)).toEqual([
        bucketKey(),
      ]);
    });

    it('gives the workloads collector view access entries in the sized clusters, scoped to their namespaces', () => {
      const principal = arnOf(idOf(synthesized, runbook().workloadsAccess.role));
      const entries = Object.values(synthesized.template.findResources('AWS::EKS::AccessEntry')).filter(
        (entry) => JSON.stringify((entry as Resource).Properties.PrincipalArn) === JSON.stringify(principal),
      ) as Resource[];
      expect(entries.map((entry) => entry.Properties)).toEqual([
        {
          ClusterName: 'prod-eks',
          PrincipalArn: principal,
          Type: 'STANDARD',
          AccessPolicies: [
            {
              PolicyArn: EKS_VIEW,
              AccessScope: { Type: 'namespace', Namespaces: ['checkout', 'payments', 'search'] },
            },
          ],
        },
      ]);
      expect(runbook().workloadsAccess.accessLevel).toBe('view');
      // Created once the function that runs as the role exists (IAM propagation).
      expect(entries[0]?.DependsOn).toContain(idOf(synthesized, runbook().collectWorkloadsFunction));
    });

    it('gives no access entry in a cluster the section leaves out', () => {
      const twoClusters = synth(
        withRightsizing(
          {
            ...exampleConfig(),
            eksClusters: [
              { name: 'prod-eks', namespaces: ['checkout', 'payments', 'search'] },
              { name: 'tools-eks', namespaces: ['ingress'] },
            ],
          },
          (section) => (section.clusters = ['tools-eks']),
        ),
      );
      const access = runbookOf(twoClusters).workloadsAccess;
      expect(access.clusters).toEqual([{ name: 'tools-eks', namespaces: ['ingress'] }]);
      expect(access.accessEntries.map((entry) => entry.clusterName)).toEqual(['tools-eks']);
      expect(granting(statementsOf(twoClusters, access.role), 'eks:DescribeCluster')[0]?.Resource).toEqual(
        localArn('eks', 'cluster/tools-eks'),
      );
    });

    it('lets the compute collector read Compute Optimizer, EC2, Auto Scaling, RDS and metrics, and write only the runs', () => {
      const statements = statementsOf(synthesized, runbook().collectComputeRole);
      expect(ownActions(statements)).toEqual([
        'autoscaling:DescribeAutoScalingGroups',
        'autoscaling:DescribeAutoScalingInstances',
        'cloudwatch:GetMetricData',
        'compute-optimizer:GetAutoScalingGroupRecommendations',
        'compute-optimizer:GetEC2InstanceRecommendations',
        'compute-optimizer:GetEnrollmentStatus',
        'compute-optimizer:GetRDSDatabaseRecommendations',
        'ec2:DescribeInstances',
        'kms:GenerateDataKey',
        'rds:DescribeDBClusters',
        'rds:DescribeDBInstances',
        's3:PutObject',
      ]);
      // RDS defines resource types: the instances and clusters of this account and region, nothing else.
      expect(granting(statements, 'rds:DescribeDBInstances')).toEqual([
        expect.objectContaining({
          Action: ['rds:DescribeDBInstances', 'rds:DescribeDBClusters'],
          Resource: [rds('db:*'), rds('cluster:*')],
        }),
      ]);
      // The others define none (Service Authorization Reference).
      for (const action of [
        'compute-optimizer:GetEnrollmentStatus',
        'ec2:DescribeInstances',
        'cloudwatch:GetMetricData',
      ]) {
        expect(granting(statements, action).map((statement) => statement.Resource)).toEqual(['*']);
      }
      expect(granting(statements, 's3:PutObject').map((statement) => statement.Resource)).toEqual([
        objects(RUNS_PREFIX),
      ]);
    });

    it('grants the compute collector nothing of EC2 with ec2: false, nothing of RDS with rds: false', () => {
      const actionsWith = (change: (section: Record<string, unknown>) => void) => {
        const variant = synth(withRightsizing(exampleConfig(), change));
        return ownActions(statementsOf(variant, runbookOf(variant).collectComputeRole));
      };
      expect(actionsWith((section) => (section.ec2 = false))).toEqual([
        'cloudwatch:GetMetricData',
        'compute-optimizer:GetEnrollmentStatus',
        'compute-optimizer:GetRDSDatabaseRecommendations',
        'kms:GenerateDataKey',
        'rds:DescribeDBClusters',
        'rds:DescribeDBInstances',
        's3:PutObject',
      ]);
      expect(actionsWith((section) => (section.rds = false))).toEqual([
        'autoscaling:DescribeAutoScalingGroups',
        'autoscaling:DescribeAutoScalingInstances',
        'cloudwatch:GetMetricData',
        'compute-optimizer:GetAutoScalingGroupRecommendations',
        'compute-optimizer:GetEC2InstanceRecommendations',
        'compute-optimizer:GetEnrollmentStatus',
        'ec2:DescribeInstances',
        'kms:GenerateDataKey',
        's3:PutObject',
      ]);
      expect(
        actionsWith((section) => {
          section.ec2 = false;
          section.rds = false;
        }),
      ).toEqual(['kms:GenerateDataKey', 's3:PutObject']);
    });

    it('lets the report read the runs, write the reports, open its presigned link, and read prices', () => {
      const statements = statementsOf(synthesized, runbook().reportRole);
      expect(ownActions(statements)).toEqual([
        'kms:Decrypt',
        'kms:GenerateDataKey',
        'pricing:GetProducts',
        's3:GetObject',
        's3:ListBucket',
        's3:PutObject',
      ]);
      expect(granting(statements, 's3:PutObject').map((statement) => statement.Resource)).toEqual([
        objects(REPORTS_PREFIX),
      ]);
      // The runs (its input), and the reports for the presigned link only: a link acts with the signer's rights.
      expect(granting(statements, 's3:GetObject').map((statement) => statement.Resource)).toEqual([
        objects(RUNS_PREFIX),
        objects(REPORTS_PREFIX),
      ]);
      expect(granting(statements, 's3:GetObject')[1]?.Sid).toBe('OpenPresignedReportLinks');
      // SSE-KMS: opening the link decrypts with the bucket key, as the signer.
      expect(granting(statements, 'kms:Decrypt').map((statement) => statement.Resource)).toContainEqual(
        bucketKey(),
      );
      expect(granting(statements, 's3:ListBucket').map((statement) => statement.Condition)).toEqual([
        { StringLike: { 's3:prefix': [`${RUNS_PREFIX}*`] } },
      ]);
      expect(granting(statements, 'pricing:GetProducts').map((statement) => statement.Resource)).toEqual([
        '*',
      ]);
    });

    it("reaches only its own prefixes of the bucket, and reads reports in the report step's presign statement only", () => {
      const s3 = policyStatements(synthesized.template)
        .map(({ statement }) => statement)
        .filter(
          (statement) =>
            asArray(statement.Action).some((action) => action.startsWith('s3:')) &&
            JSON.stringify(statement).includes('rightsizing/'),
        );
      const resources = s3
        .flatMap((statement) => asArray(statement.Resource))
        .map((resource) => JSON.stringify(resource));
      // Objects under the two prefixes; the bucket itself only to list, and only the runs prefix.
      const bucket = JSON.stringify(arnOf(idOf(synthesized, runbook().reports.bucket)));
      for (const resource of resources.filter((resource) => resource !== bucket)) {
        expect(resource).toMatch(/rightsizing\/(runs|reports)\/\*/);
      }
      for (const statement of s3.filter((statement) => JSON.stringify(statement.Resource) === bucket)) {
        expect(statement.Action).toBe('s3:ListBucket');
        expect(statement.Condition).toEqual({ StringLike: { 's3:prefix': [`${RUNS_PREFIX}*`] } });
      }
      const readsReports = s3.filter(
        (statement) =>
          asArray(statement.Action).includes('s3:GetObject') &&
          JSON.stringify(statement.Resource).includes(REPORTS_PREFIX),
      );
      expect(readsReports.map((statement) => statement.Sid)).toEqual(['OpenPresignedReportLinks']);
      const writes = s3.filter((statement) => asArray(statement.Action).includes('s3:PutObject'));
      // The two collectors write runs, the report writes reports.
      expect(writes.map((statement) => JSON.stringify(statement.Resource)).sort()).toEqual(
        [objects(REPORTS_PREFIX), objects(RUNS_PREFIX), objects(RUNS_PREFIX)]
          .map((value) => JSON.stringify(value))
          .sort(),
      );
      expect(
        s3.flatMap((statement) => asArray(statement.Action)).filter((action) => /Delete/.test(action)),
      ).toEqual([]);
    });
  });

  describe('its network', () => {
    const serviceNames = [
      'rightsizing-collect-workloads',
      'rightsizing-collect-compute',
      'rightsizing-report',
    ];

    it('runs every step outside a VPC without a network section', () => {
      for (const name of serviceNames) {
        const properties = functionOf(synthesized, name).Properties;
        expect(properties.VpcConfig, name).toBeUndefined();
      }
    });

    it('runs every step in the VPC when the subnets reach the internet, with the endpoints it needs but no Price List one', () => {
      const inVpc = synth(withRightsizing(vpcExampleConfig()));
      const network = present(inVpc.stack.network, 'the network');
      for (const name of serviceNames) {
        const properties = functionOf(inVpc, name).Properties;
        expect(properties.VpcConfig, name).toEqual(
          expect.objectContaining({ SubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'] }),
        );
        expect(properties.Environment).toEqual({
          Variables: expect.objectContaining({ NETWORK_PLACEMENT: 'vpc' }) as unknown,
        });
      }
      const services = network.endpointServices();
      expect(services).toEqual(
        expect.arrayContaining(['compute-optimizer', 'ec2', 'eks', 'monitoring', 'rds', 's3']),
      );
      // Compute Optimizer answers for the groups: the step itself calls no Auto Scaling API.
      expect(services).not.toContain('autoscaling');
      // The Price List API answers in three regions only: reached through the NAT gateway.
      expect(services).not.toContain('pricing');
      expect([...network.interfaceEndpoints.keys()]).toEqual(
        expect.arrayContaining(['compute-optimizer', 'ec2']),
      );
      expect(network.gatewayEndpoints.has('s3')).toBe(true);
    });

    it('keeps the report step outside the VPC when the subnets have no internet access, for the Price List API', () => {
      const isolated = synth(withRightsizing(noInternet()));
      for (const name of ['rightsizing-collect-workloads', 'rightsizing-collect-compute']) {
        expect(functionOf(isolated, name).Properties.VpcConfig, name).toBeDefined();
      }
      const report = functionOf(isolated, 'rightsizing-report').Properties;
      expect(report.VpcConfig).toBeUndefined();
      expect(report.Environment).toEqual({
        Variables: expect.objectContaining({ NETWORK_PLACEMENT: 'outside-vpc' }) as unknown,
      });
      // Its role gets no network interface permissions, the collectors' roles do.
      const eniRoles = (
        Object.values(
          isolated.template.findResources('AWS::IAM::Policy', {
            Properties: {
              PolicyDocument: {
                Statement: Match.arrayWith([Match.objectLike({ Action: 'ec2:CreateNetworkInterface' })]),
              },
            },
          }),
        ) as Resource[]
      ).flatMap((policy) => (policy.Properties.Roles as unknown[]).map((role) => JSON.stringify(role)));
      const rightsizing = runbookOf(isolated);
      expect(eniRoles).not.toContain(JSON.stringify(ref(idOf(isolated, rightsizing.reportRole))));
      expect(eniRoles).toContain(JSON.stringify(ref(idOf(isolated, rightsizing.collectComputeRole))));
      expect(eniRoles).toContain(JSON.stringify(ref(idOf(isolated, rightsizing.workloadsAccess.role))));
    });
  });
});

describe('the cost right-sizing report under the policy validators', () => {
  const variants: [string, () => Record<string, unknown>][] = [
    ['the example configuration', () => withRightsizing(exampleConfig())],
    ['the private-cluster example', () => withRightsizing(vpcExampleConfig())],
    ['a VPC without internet access', () => withRightsizing(noInternet())],
    [
      'no EC2 or RDS sizing, defaults otherwise',
      () => ({ ...exampleConfig(), rightsizing: { ec2: false, rds: false } }),
    ],
  ];

  it.each(variants)('leaves no cdk-nag AwsSolutions finding unacknowledged with %s', (_name, raw) => {
    expect(synth(raw()).findings).toEqual([]);
  });

  it.each(variants)('leaves no Control Tower (cfn-guard) finding unacknowledged with %s', (_name, raw) => {
    expect(stackControlTowerFindings(raw())).toEqual([]);
  });

  it('acknowledges only with reasons that name what they cover', () => {
    const synthesized = synth(withRightsizing(exampleConfig()));
    const runbook = runbookOf(synthesized);
    const acknowledged = runbook.node
      .findAll()
      .flatMap((construct) => construct.node.metadata)
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>));
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const [id, reason] of acknowledged) {
      expect(id).toMatch(/^(Annotation::)?(AwsSolutions-|cdk-validator-cfnguard::)/);
      expect(reason.length, id).toBeGreaterThan(60);
    }
    const reasons = acknowledged.map(([, reason]) => reason).join('\n');
    for (const action of [
      'cloudwatch:GetMetricData',
      'pricing:GetProducts',
      'compute-optimizer:GetEnrollmentStatus',
      'ec2:DescribeInstances',
      'rds:DescribeDBInstances',
    ]) {
      expect(reasons).toContain(action);
    }
  });
});
