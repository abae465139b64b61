import { Match } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { alarmArn, arnOf, idOf, localArn, present, ref } from './helpers';
import { asArray, exampleConfig, policyStatements, synth, type Statement, type Synthesized } from './synth';

/** JSON with object keys sorted, so equal statements compare equal whatever their key order. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a.localeCompare(b)))
      : inner,
  );

/** Statements in a stable order, to compare sets of them. */
const sorted = (statements: Statement[]) =>
  [...statements].sort((a, b) => canonical(a).localeCompare(canonical(b)));

/** Actions AWS defines no resource type for (or, for DescribeAlarms, that need "*" to see composite alarms). */
const UNSCOPABLE = new Set([
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
  'cloudwatch:DescribeAlarms',
]);

/**
 * The certificate check's read-only list calls, which define no resource types in the Service Authorization
 * Reference either; only its AWS collector may make them.
 */
const UNSCOPABLE_CERTIFICATE_LISTS = new Set([
  // Lists a region's ACM certificates: no resource type (DescribeCertificate has one, and is scoped).
  'acm:ListCertificates',
  // Lists the account's IAM server certificates: no resource type (GetServerCertificate would have one).
  'iam:ListServerCertificates',
  // Lists a region's load balancers: ELB's Describe* calls support no resource-level permissions.
  'elasticloadbalancing:DescribeLoadBalancers',
  // Lists a load balancer's listeners: a Describe* call, no resource-level permissions.
  'elasticloadbalancing:DescribeListeners',
  // Lists a listener's certificates (the SNI ones too): a Describe* call, no resource-level permissions.
  'elasticloadbalancing:DescribeListenerCertificates',
]);

/**
 * The cost right-sizing report's read-only calls that define no resource types in the Service Authorization
 * Reference (the construct acknowledges each), by the step whose role alone may make them.
 */
const UNSCOPABLE_RIGHTSIZING = {
  // Container Insights usage series: GetMetricData defines no resource types.
  workloads: ['cloudwatch:GetMetricData'],
  compute: [
    // Whether the account opted in, and its recommendations: Compute Optimizer defines no resource types.
    'compute-optimizer:GetEnrollmentStatus',
    'compute-optimizer:GetEC2InstanceRecommendations',
    'compute-optimizer:GetAutoScalingGroupRecommendations',
    'compute-optimizer:GetRDSDatabaseRecommendations',
    // The CloudWatch fallback's utilisation series.
    'cloudwatch:GetMetricData',
    // Listing the instances and groups: EC2's and Auto Scaling's Describe* calls have no resource-level permissions.
    'ec2:DescribeInstances',
    'autoscaling:DescribeAutoScalingGroups',
    'autoscaling:DescribeAutoScalingInstances',
  ],
  // The public Price List API: GetProducts defines no resource types.
  report: ['pricing:GetProducts'],
} as const;
const UNSCOPABLE_RIGHTSIZING_ACTIONS = new Set<string>(Object.values(UNSCOPABLE_RIGHTSIZING).flat());

/**
 * The canary promotion's read-only calls that define no resource types in the Service Authorization Reference
 * (the construct acknowledges each), by the step whose policy alone makes them.
 */
const UNSCOPABLE_CANARY = {
  // Confirming an ALB step's weights on the load balancer: ELB's Describe* calls have no resource-level permissions.
  observe: [
    'elasticloadbalancing:DescribeRules',
    'elasticloadbalancing:DescribeListeners',
    'elasticloadbalancing:DescribeTargetGroups',
  ],
  // The checks' series: GetMetricData defines no resource types.
  analyse: ['cloudwatch:GetMetricData'],
} as const;

describe('the runbooks permissions', () => {
  let synthesized: Synthesized;
  let roleIds: {
    prepare: string;
    undo: string;
    rolloutStatus: string;
    notifier: string;
    alarmStatus: string;
    stateMachine: string;
  };
  beforeAll(() => {
    synthesized = synth();
    const { rollback } = synthesized;
    const { slackNotifier } = synthesized.stack;
    roleIds = {
      prepare: idOf(synthesized, rollback.prepareAccess.role),
      undo: idOf(synthesized, rollback.undoAccess.role),
      rolloutStatus: idOf(synthesized, rollback.rolloutStatusAccess.role),
      notifier: idOf(synthesized, slackNotifier.role),
      alarmStatus: idOf(synthesized, rollback.alarmStatusRole),
      stateMachine: idOf(synthesized, rollback.workflow.stateMachine.role),
    };
  });

  /** Asserts that some policy attached to the role allows exactly these actions on exactly these resources. */
  const expectGrant = (roleId: string, actions: string | string[], resource: unknown) =>
    synthesized.template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [ref(roleId)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Allow', Action: actions, Resource: resource }),
        ]),
      },
    });

  /** Every statement of the policies attached to the role. */
  const statementsOf = (roleId: string): Statement[] =>
    Object.values(synthesized.template.findResources('AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([ref(roleId)]))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);

  /** Every action the role's policies allow, flattened. */
  const actionsOf = (roleId: string): string[] =>
    Object.values(synthesized.template.findResources('AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([ref(roleId)]))
      .flatMap((policy) =>
        policy.Properties.PolicyDocument.Statement.flatMap((s: { Action: string }) => asArray(s.Action)),
      );

  it('never allows a wildcard action', () => {
    const wildcards = policyStatements(synthesized.template).flatMap(({ policy, statement }) =>
      asArray(statement.Action)
        .filter((action) => action.includes('*'))
        .map((action) => `${policy}: ${action}`),
    );
    expect(wildcards).toEqual([]);
  });

  it('uses Resource "*" only for actions that cannot be scoped', () => {
    // The canary's steps make some of the same calls as the certificate check and the right-sizing report:
    // they are checked apart, below.
    const canary = present(synthesized.stack.canary, 'the canary promotion');
    const canaryPolicies = {
      observe: idOf(synthesized, present(canary.observePolicy, "the canary observe step's policy")),
      analyse: idOf(synthesized, canary.analysePolicy),
    };
    const ofCanary = new Set<string>(Object.values(canaryPolicies));
    const everyUnscoped = policyStatements(synthesized.template).filter(({ statement }) =>
      asArray(statement.Resource).includes('*'),
    );
    const unscoped = everyUnscoped.filter(({ policy }) => !ofCanary.has(policy));
    expect(
      everyUnscoped
        .filter(({ policy }) => ofCanary.has(policy))
        .map(({ policy, statement }) => ({ policy, actions: asArray(statement.Action) }))
        .sort((a, b) => a.policy.localeCompare(b.policy)),
    ).toEqual(
      (Object.keys(canaryPolicies) as (keyof typeof canaryPolicies)[])
        .map((step) => ({ policy: canaryPolicies[step], actions: [...UNSCOPABLE_CANARY[step]] }))
        .sort((a, b) => a.policy.localeCompare(b.policy)),
    );
    expect(
      unscoped
        .flatMap(({ statement }) => asArray(statement.Action))
        .filter(
          (action) =>
            !UNSCOPABLE.has(action) &&
            !UNSCOPABLE_CERTIFICATE_LISTS.has(action) &&
            !UNSCOPABLE_RIGHTSIZING_ACTIONS.has(action),
        ),
    ).toEqual([]);
    // The certificate list calls: in the AWS collector's policies only.
    const collector = idOf(synthesized, present(synthesized.stack.certificates, 'the check').collectAwsRole);
    const policies = synthesized.template.findResources('AWS::IAM::Policy');
    const listers = unscoped
      .filter(({ statement }) =>
        asArray(statement.Action).some((action) => UNSCOPABLE_CERTIFICATE_LISTS.has(action)),
      )
      .map(({ policy }) => policies[policy]?.Properties.Roles);
    expect(listers).toEqual([[ref(collector)]]);
    // The right-sizing report's: each in the policies of the step that makes it only.
    const rightsizing = present(synthesized.stack.rightsizing, 'the right-sizing report');
    const rightsizingRoles = {
      workloads: rightsizing.workloadsAccess.role,
      compute: rightsizing.collectComputeRole,
      report: rightsizing.reportRole,
    };
    const sizers = unscoped.flatMap(({ policy, statement }) =>
      asArray(statement.Action)
        .filter((action) => UNSCOPABLE_RIGHTSIZING_ACTIONS.has(action))
        .map((action) => ({ action, roles: policies[policy]?.Properties.Roles as unknown })),
    );
    const inOrder = (a: unknown, b: unknown) => canonical(a).localeCompare(canonical(b));
    expect(sizers.sort(inOrder)).toEqual(
      (Object.keys(UNSCOPABLE_RIGHTSIZING) as (keyof typeof UNSCOPABLE_RIGHTSIZING)[])
        .flatMap((step) =>
          UNSCOPABLE_RIGHTSIZING[step].map((action) => ({
            action,
            roles: [ref(idOf(synthesized, rightsizingRoles[step]))],
          })),
        )
        .sort(inOrder),
    );
  });

  it('uses no AWS managed policy', () => {
    synthesized.template.allResourcesProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });

  describe('the Kubernetes steps, each with its own role', () => {
    const clusterArn = () => localArn('eks', 'cluster/prod-eks');
    const tableArn = () => arnOf(idOf(synthesized, synthesized.stack.lockTable.table));
    /** What every Kubernetes step's role needs: find its cluster, write its own logs, trace. */
    const base = (fn: { logGroup: IConstruct }): Statement[] => [
      { Action: 'eks:DescribeCluster', Effect: 'Allow', Resource: clusterArn() },
      { Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Effect: 'Allow', Resource: '*' },
      {
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Effect: 'Allow',
        Resource: arnOf(idOf(synthesized, fn.logGroup)),
      },
    ];

    it("prepare: finds the cluster, takes the lock, reads the alarms, their tags and the lock holder's execution, rejects a waiting canary's approval, nothing else", () => {
      const { rollback } = synthesized;
      expect(sorted(statementsOf(roleIds.prepare))).toEqual(
        sorted([
          ...base(rollback.prepareFunction),
          {
            Sid: 'LockAndCooldown',
            Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
            Effect: 'Allow',
            Resource: tableArn(),
          },
          {
            Sid: 'ReadRollbackTargetTags',
            Action: 'cloudwatch:ListTagsForResource',
            Effect: 'Allow',
            Resource: [
              alarmArn('checkout-api-5xx-rate'),
              alarmArn('payments-worker-error-rate'),
              alarmArn('rollback-*'),
            ],
          },
          { Sid: 'ReadAlarms', Action: 'cloudwatch:DescribeAlarms', Effect: 'Allow', Resource: '*' },
          {
            Sid: 'ReadLockHolderExecutions',
            Action: 'states:DescribeExecution',
            Effect: 'Allow',
            Resource: localArn('states', 'execution:platform-runbooks-prod-*:*'),
          },
          {
            // A canary waiting for approval is aborted by rejecting it: that state machine's tokens only.
            Sid: 'RejectCanaryApproval',
            Action: 'states:SendTaskFailure',
            Effect: 'Allow',
            Resource: localArn('states', 'stateMachine:platform-runbooks-prod-canary'),
          },
        ]),
      );
    });

    it('undo: finds the cluster and records the rollback with an UpdateItem, never reading the lock', () => {
      const { rollback } = synthesized;
      expect(sorted(statementsOf(roleIds.undo))).toEqual(
        sorted([
          ...base(rollback.undoFunction),
          { Sid: 'RecordRollback', Action: 'dynamodb:UpdateItem', Effect: 'Allow', Resource: tableArn() },
        ]),
      );
    });

    it('rollout status: only finds the cluster, and writes its logs and traces', () => {
      expect(sorted(statementsOf(roleIds.rolloutStatus))).toEqual(
        sorted(base(synthesized.rollback.rolloutStatusFunction)),
      );
    });

    it('start their functions only once the step permissions exist', () => {
      const { rollback } = synthesized;
      const functions = synthesized.template.findResources('AWS::Lambda::Function');
      expect(functions[idOf(synthesized, rollback.prepareFunction)]?.DependsOn).toContain(
        idOf(synthesized, rollback.preparePolicy),
      );
      expect(functions[idOf(synthesized, rollback.undoFunction)]?.DependsOn).toContain(
        idOf(synthesized, rollback.undoPolicy),
      );
    });
  });

  describe('the alarm-status function', () => {
    it('runs as its own role, which only reads alarms, writes its logs and traces', () => {
      synthesized.template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'rollback-alarm-status' }) },
        Role: arnOf(roleIds.alarmStatus),
      });
      expectGrant(roleIds.alarmStatus, 'cloudwatch:DescribeAlarms', '*');
      expect(new Set(actionsOf(roleIds.alarmStatus))).toEqual(
        new Set([
          'cloudwatch:DescribeAlarms',
          'xray:PutTraceSegments',
          'xray:PutTelemetryRecords',
          'logs:CreateLogStream',
          'logs:PutLogEvents',
        ]),
      );
    });
  });

  describe('the Slack notifier', () => {
    it('reads the webhook secret, matched by name and its six-character suffix', () => {
      expectGrant(
        roleIds.notifier,
        'secretsmanager:GetSecretValue',
        localArn('secretsmanager', 'secret:platform-runbooks/slack-webhook-??????'),
      );
      expect(new Set(actionsOf(roleIds.notifier))).toEqual(
        new Set([
          'secretsmanager:GetSecretValue',
          'xray:PutTraceSegments',
          'xray:PutTelemetryRecords',
          'logs:CreateLogStream',
          'logs:PutLogEvents',
        ]),
      );
    });
  });

  describe('the state machine', () => {
    it('invokes its five functions, and their versions and aliases', () => {
      const { rollback } = synthesized;
      const { slackNotifier } = synthesized.stack;
      const functions = [
        rollback.prepareFunction,
        rollback.undoFunction,
        rollback.rolloutStatusFunction,
        rollback.alarmStatusFunction,
        slackNotifier.fn,
      ];
      expectGrant(
        roleIds.stateMachine,
        'lambda:InvokeFunction',
        functions.flatMap((fn) => {
          const arn = arnOf(idOf(synthesized, fn));
          return [arn, { 'Fn::Join': ['', [arn, ':*']] }];
        }),
      );
    });

    it('publishes lifecycle events to the runbooks bus only', () => {
      expectGrant(
        roleIds.stateMachine,
        'events:PutEvents',
        arnOf(idOf(synthesized, synthesized.stack.eventBus.bus)),
      );
    });

    it('pages through the on-call topic, with its key', () => {
      const { onCall } = synthesized.stack;
      expectGrant(roleIds.stateMachine, 'sns:Publish', ref(idOf(synthesized, onCall.topic)));
      expectGrant(
        roleIds.stateMachine,
        ['kms:GenerateDataKey', 'kms:Decrypt'],
        arnOf(idOf(synthesized, present(onCall.key, 'the on-call topic key'))),
      );
    });

    it('releases the lock in the lock table', () => {
      expectGrant(
        roleIds.stateMachine,
        'dynamodb:UpdateItem',
        arnOf(idOf(synthesized, synthesized.stack.lockTable.table)),
      );
    });

    it('can do nothing else but deliver its logs and traces', () => {
      const own = actionsOf(roleIds.stateMachine).filter((action) => !UNSCOPABLE.has(action));
      expect(new Set(own)).toEqual(
        new Set([
          'lambda:InvokeFunction',
          'events:PutEvents',
          'sns:Publish',
          'kms:GenerateDataKey',
          'kms:Decrypt',
          'dynamodb:UpdateItem',
        ]),
      );
      expect(actionsOf(roleIds.stateMachine)).not.toContain('cloudwatch:DescribeAlarms');
    });

    it('is started by EventBridge through a role that may only start it', () => {
      const { rollback } = synthesized;
      const rule =
        synthesized.template.findResources('AWS::Events::Rule')[
          idOf(synthesized, present(rollback.workflow.rule, 'the alarm rule'))
        ];
      const [target] = present(rule, 'the alarm rule').Properties.Targets as {
        RoleArn: { 'Fn::GetAtt': [string, string] };
      }[];
      const eventsRoleId = present(target, 'the rule target').RoleArn['Fn::GetAtt'][0];
      expectGrant(
        eventsRoleId,
        'states:StartExecution',
        ref(idOf(synthesized, rollback.workflow.stateMachine)),
      );
      expect(actionsOf(eventsRoleId)).toEqual(['states:StartExecution']);
    });
  });

  /** The statements allowing a KMS action, with the logical id of the policy holding each. */
  const kmsStatements = (from: Synthesized) =>
    policyStatements(from.template).filter(({ statement }) =>
      asArray(statement.Action).some((action) => action.startsWith('kms:')),
    );

  /** Whether a statement's resource is the reports bucket's key. */
  const onReportsKey = (from: Synthesized, statement: Statement): boolean =>
    canonical(statement.Resource) ===
    canonical(arnOf(idOf(from, present(from.stack.certificates, 'the certificate check').reports.key)));

  /**
   * The KMS actions each role may take on the reports bucket's key. Only the steps of the runbooks that
   * write reports use it, each for its prefixes: the certificate check's three collectors and the
   * right-sizing report's two write their parts, each report step reads them and writes the report (the
   * right-sizing one also decrypts for the presigned link it signs).
   */
  const expectReportsKeyGrantsOnlyToTheReportingSteps = (from: Synthesized) => {
    const certificates = present(from.stack.certificates, 'the certificate check');
    const rightsizing = present(from.stack.rightsizing, 'the right-sizing report');
    expect(rightsizing.reports).toBe(certificates.reports);
    const policies = from.template.findResources('AWS::IAM::Policy');
    const grants: Record<string, string[]> = {};
    for (const { policy, statement } of kmsStatements(from)) {
      if (!onReportsKey(from, statement)) continue;
      for (const role of present(policies[policy], policy).Properties.Roles as { Ref: string }[]) {
        // Each action once: the right-sizing report's presign statement repeats its read grant's kms:Decrypt.
        grants[role.Ref] = [...new Set([...(grants[role.Ref] ?? []), ...asArray(statement.Action)])].sort();
      }
    }
    const roleOf = (fn: { role?: IConstruct }) => idOf(from, present(fn.role, 'a step role'));
    expect(grants).toEqual({
      [roleOf(certificates.collectAwsFunction)]: ['kms:GenerateDataKey'],
      [roleOf(certificates.collectCertManagerFunction)]: ['kms:GenerateDataKey'],
      [roleOf(certificates.probeEndpointsFunction)]: ['kms:GenerateDataKey'],
      [roleOf(certificates.reportFunction)]: ['kms:Decrypt', 'kms:GenerateDataKey'],
      [roleOf(rightsizing.collectWorkloadsFunction)]: ['kms:GenerateDataKey'],
      [roleOf(rightsizing.collectComputeFunction)]: ['kms:GenerateDataKey'],
      [roleOf(rightsizing.reportFunction)]: ['kms:Decrypt', 'kms:GenerateDataKey'],
    });
  };

  /** The state machines of the example's four runbooks. */
  const workflows = (from: Synthesized) => [
    from.rollback.workflow,
    present(from.stack.certificates, 'the certificate check').workflow,
    present(from.stack.rightsizing, 'the right-sizing report').workflow,
    present(from.stack.canary, 'the canary promotion').workflow,
  ];

  describe('with an existing on-call topic', () => {
    const topicArn = 'arn:aws:sns:eu-west-1:123456789012:pagerduty-platform';
    let existing: Synthesized;
    beforeAll(() => {
      const raw = exampleConfig();
      raw.onCall = { existingTopicArn: topicArn };
      existing = synth(raw);
    });

    it('publishes to that topic and needs no key', () => {
      for (const workflow of workflows(existing)) {
        existing.template.hasResourceProperties('AWS::IAM::Policy', {
          Roles: [ref(idOf(existing, workflow.stateMachine.role))],
          PolicyDocument: {
            Statement: Match.arrayWith([Match.objectLike({ Action: 'sns:Publish', Resource: topicArn })]),
          },
        });
      }
      existing.template.resourceCountIs('AWS::SNS::Topic', 0);
      // No on-call key: the logs key encrypts the log groups, which no role needs (CloudWatch Logs uses it
      // itself), and the reports key the reports bucket, which only the reporting runbooks' steps use.
      expect(Object.keys(existing.template.findResources('AWS::KMS::Key')).sort()).toEqual(
        [
          idOf(existing, existing.stack.logs.key),
          idOf(existing, present(existing.stack.certificates, 'the certificate check').reports.key),
        ].sort(),
      );
      expect(kmsStatements(existing).filter(({ statement }) => !onReportsKey(existing, statement))).toEqual(
        [],
      );
      expectReportsKeyGrantsOnlyToTheReportingSteps(existing);
    });
  });

  describe('with an existing on-call topic encrypted with a customer managed key', () => {
    const topicArn = 'arn:aws:sns:eu-west-1:123456789012:pagerduty-platform';
    const keyArn = 'arn:aws:kms:eu-west-1:123456789012:key/1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d';
    let existing: Synthesized;
    beforeAll(() => {
      const raw = exampleConfig();
      raw.onCall = { existingTopicArn: topicArn, existingTopicKeyArn: keyArn };
      existing = synth(raw);
    });

    it('lets each state machine use exactly that key, and nothing else any key (the reports key aside, which only the reporting steps use)', () => {
      const kms = kmsStatements(existing).filter(({ statement }) => !onReportsKey(existing, statement));
      expect(kms.sort((a, b) => a.policy.localeCompare(b.policy))).toEqual(
        workflows(existing)
          .map((workflow) => ({
            policy: idOf(existing, workflow.policy),
            statement: {
              Sid: 'EncryptPages',
              Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
              Effect: 'Allow',
              Resource: keyArn,
            },
          }))
          .sort((a, b) => a.policy.localeCompare(b.policy)),
      );
      for (const workflow of workflows(existing)) {
        existing.template.hasResourceProperties('AWS::IAM::Policy', {
          PolicyName: Match.anyValue(),
          Roles: [ref(idOf(existing, workflow.stateMachine.role))],
          PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'EncryptPages' })]) },
        });
      }
      expectReportsKeyGrantsOnlyToTheReportingSteps(existing);
      // Imported, not created: the stack cannot change that key's policy (the README says what it needs).
      expect(Object.keys(existing.template.findResources('AWS::KMS::Key')).sort()).toEqual(
        [
          idOf(existing, existing.stack.logs.key),
          idOf(existing, present(existing.stack.certificates, 'the certificate check').reports.key),
        ].sort(),
      );
    });
  });

  describe('in a stack with an account and a region', () => {
    it('names the alarms in that account and region', () => {
      const raw = exampleConfig();
      Object.assign(raw, { account: '123456789012', region: 'eu-west-1' });
      const pinned = synth(raw);
      pinned.template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Action: 'cloudwatch:ListTagsForResource',
              Resource: Match.arrayWith([
                {
                  'Fn::Join': [
                    '',
                    [
                      'arn:',
                      { Ref: 'AWS::Partition' },
                      ':cloudwatch:eu-west-1:123456789012:alarm:rollback-*',
                    ],
                  ],
                },
              ]),
            }),
          ]),
        },
      });
      expect(pinned.findings).toEqual([]);
    });
  });
});
