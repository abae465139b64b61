import { fileURLToPath } from 'node:url';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { canaryApprovalEndpoint, canaryFunctions } from '../../lambdas/canary/functions';
import { CanaryRunbook } from '../../lib/canary-runbook';
import { canaryRuntime, canarySectionSchema } from '../../lib/config/canary';
import { parseConfig } from '../../lib/config/load';
import { createRunbookCommons } from '../../lib/runbook-commons';
import type { RunbookFunction } from '../../lib/runbook-function';
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

interface Resource {
  Properties: Record<string, unknown>;
  DependsOn?: string[];
}

const canaryOf = (synthesized: Synthesized): CanaryRunbook =>
  present(synthesized.stack.canary, 'the canary promotion');

/** The example's `canary:` section, a fresh copy each time. */
const exampleSection = (): { services: Record<string, unknown>[] } =>
  exampleConfig().canary as { services: Record<string, unknown>[] };

/** The example with its canary services changed by `change`, and `slack` replaced when given. */
function withCanary(
  change: (services: Record<string, unknown>[]) => Record<string, unknown>[],
  slack?: Record<string, unknown>,
): Record<string, unknown> {
  const raw = exampleConfig();
  raw.canary = { services: change(exampleSection().services) };
  if (slack) raw.slack = slack;
  return raw;
}

const WEBHOOK_ONLY = { webhookSecretName: 'platform-runbooks/slack-webhook' };

/** Every statement of the policies attached to `role`. */
function statementsOf(synthesized: Synthesized, role: IConstruct): Statement[] {
  const roleRef = JSON.stringify(ref(idOf(synthesized, role)));
  return Object.values(synthesized.template.findResources('AWS::IAM::Policy')).flatMap((resource) => {
    const properties = (resource as Resource).Properties;
    const roles = (properties.Roles as unknown[]).map((entry) => JSON.stringify(entry));
    return roles.includes(roleRef) ? (properties.PolicyDocument as { Statement: Statement[] }).Statement : [];
  });
}

/** JSON with object keys sorted, so equal statements compare equal whatever their key order. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a.localeCompare(b)))
      : inner,
  );
const sorted = (statements: Statement[]) =>
  [...statements].sort((a, b) => canonical(a).localeCompare(canonical(b)));

/** What every Lambda role gets from RunbookFunction: its own log group, and tracing. */
const logsAndTraces = (synthesized: Synthesized, fn: RunbookFunction): Statement[] => [
  { Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Effect: 'Allow', Resource: '*' },
  {
    Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    Effect: 'Allow',
    Resource: arnOf(idOf(synthesized, fn.logGroup)),
  },
];

/** A Kubernetes step's base: finding its clusters, logs and traces. */
const kubernetesBase = (synthesized: Synthesized, fn: RunbookFunction, clusters = ['prod-eks']) => [
  {
    Action: 'eks:DescribeCluster',
    Effect: 'Allow',
    Resource:
      clusters.length === 1
        ? localArn('eks', `cluster/${clusters[0]}`)
        : clusters.map((cluster) => localArn('eks', `cluster/${cluster}`)),
  },
  ...logsAndTraces(synthesized, fn),
];

const secret = (name: string) => localArn('secretsmanager', `secret:${name}-??????`);

/** RunbookFunction's own variables, which every function gets (lambda-defaults.test.ts). */
const DEFAULT_VARIABLES = new Set([
  'NODE_OPTIONS',
  'POWERTOOLS_SERVICE_NAME',
  'POWERTOOLS_LOG_LEVEL',
  'NETWORK_PLACEMENT',
]);

/** The variables a function gets besides RunbookFunction's defaults. */
function ownEnvironment(synthesized: Synthesized, fn: RunbookFunction): Record<string, unknown> {
  const resource = present(
    synthesized.template.findResources('AWS::Lambda::Function')[idOf(synthesized, fn)] as
      Resource | undefined,
    fn.node.path,
  );
  const variables = (resource.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
  return Object.fromEntries(Object.entries(variables).filter(([name]) => !DEFAULT_VARIABLES.has(name)));
}

/** The Role rules the routers' groups need (docs/runbooks/canary.md, "What the routers need in the cluster"). */
const TARGET_GROUP_BINDING_RULE = {
  apiGroups: ['elbv2.k8s.aws', 'eks.amazonaws.com'],
  resources: ['targetgroupbindings'],
  verbs: ['list'],
};
const HTTPROUTE_RULE = (verbs: string[]) => ({
  apiGroups: ['gateway.networking.k8s.io'],
  resources: ['httproutes'],
  verbs,
});

const accessPolicy = (name: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:eks::aws:cluster-access-policy/${name}`]],
});

/** The access entries of a role, by their properties. */
function entriesOf(synthesized: Synthesized, role: IConstruct): Resource[] {
  const principal = JSON.stringify(arnOf(idOf(synthesized, role)));
  return (Object.values(synthesized.template.findResources('AWS::EKS::AccessEntry')) as Resource[]).filter(
    (entry) => JSON.stringify(entry.Properties.PrincipalArn) === principal,
  );
}

/** Every acknowledgement under a construct: rule id, reason and the path it was made on. */
function acknowledgementsIn(scope: IConstruct): { id: string; reason: string; path: string }[] {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          id,
          reason,
          path: construct.node.path,
        })),
      ),
  );
}

describe('the canary promotion', () => {
  let synthesized: Synthesized;
  let canary: CanaryRunbook;
  let table: unknown;
  beforeAll(() => {
    synthesized = synth();
    canary = canaryOf(synthesized);
    table = arnOf(idOf(synthesized, synthesized.stack.lockTable.table));
  });

  const runtime = () =>
    canaryRuntime({ environment: 'prod', settings: canarySectionSchema.parse(exampleSection()) });

  describe('its trigger', () => {
    it('is a rule on the lifecycle bus for CanaryRequested from CI or the CLI, nothing else', () => {
      const rule = present(canary.workflow.rule, 'the CanaryRequested rule');
      const resource = synthesized.template.findResources('AWS::Events::Rule')[idOf(synthesized, rule)];
      expect(present(resource, 'the rule').Properties).toMatchObject({
        EventBusName: ref(idOf(synthesized, synthesized.stack.eventBus.bus)),
        EventPattern: {
          source: ['platform-runbooks.ci', 'platform-runbooks.cli'],
          'detail-type': ['CanaryRequested'],
        },
      });
      expect(Object.keys(present(resource, 'the rule').Properties.EventPattern as object).sort()).toEqual([
        'detail-type',
        'source',
      ]);
      expect(canary.workflow.rules).toHaveLength(1);
      expect(canary.workflow.schedules).toHaveLength(0);
    });

    it('passes the whole event, with the dead-letter queue, 4 retries and a 30-minute maximum age', () => {
      const rule = present(canary.workflow.rule, 'the CanaryRequested rule');
      expect(
        synthesized.template.findResources('AWS::Events::Rule')[idOf(synthesized, rule)]?.Properties.Targets,
      ).toEqual([
        {
          Id: 'Target0',
          Arn: ref(idOf(synthesized, canary.workflow.stateMachine)),
          RoleArn: expect.anything(),
          DeadLetterConfig: { Arn: arnOf(idOf(synthesized, canary.workflow.deadLetterQueue)) },
          RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 1800 },
        },
      ]);
    });

    it("leaves every other runbook's rules on the account's default bus", () => {
      const others = Object.entries(synthesized.template.findResources('AWS::Events::Rule')).filter(
        ([id]) => id !== idOf(synthesized, present(canary.workflow.rule, 'the rule')),
      );
      expect(others.length).toBeGreaterThan(0);
      for (const [id, rule] of others) expect(rule.Properties.EventBusName, id).toBeUndefined();
    });
  });

  describe('its workflow', () => {
    const machine = () =>
      present(
        synthesized.template.findResources('AWS::StepFunctions::StateMachine')[
          idOf(synthesized, canary.workflow.stateMachine)
        ] as Resource | undefined,
        'the state machine',
      ).Properties;

    it("is named for the environment and stopped after canaryRuntime's timeout, the longest run", () => {
      expect(machine().StateMachineName).toBe('platform-runbooks-prod-canary');
      const definition = JSON.parse(machine().DefinitionString as string) as { TimeoutSeconds: number };
      // checkout: 5 analyses (4 steps, 1 repeat) × (5 interval + 3 hold margin + 5 router minutes) + a 60-minute
      // approval + 30 outside.
      expect(runtime().timeoutMinutes).toBe(155);
      expect(definition.TimeoutSeconds).toBe(runtime().timeoutMinutes * 60);
    });

    it('receives the services as canaryRuntime writes them, and each function by its substitution', () => {
      const substitutions = machine().DefinitionSubstitutions as Record<string, unknown>;
      expect(substitutions.Services).toBe(runtime().substitutions.Services);
      for (const fn of [
        canary.startFunction,
        canary.trafficFunction,
        canary.observeFunction,
        canary.analyseFunction,
        canary.requestApprovalFunction,
        canary.threadFunction,
      ]) {
        expect(substitutions[fn.definition.substitution], fn.definition.serviceName).toEqual(
          arnOf(idOf(synthesized, fn)),
        );
      }
      expect(substitutions.LockTableName).toEqual(ref(idOf(synthesized, synthesized.stack.lockTable.table)));
      expect(substitutions.EventBusName).toEqual(ref(idOf(synthesized, synthesized.stack.eventBus.bus)));
    });

    it('names an undeployed smoke-test function when no service has a smoke test', () => {
      expect(canary.smokeTestFunction).toBeUndefined();
      expect(
        (machine().DefinitionSubstitutions as Record<string, unknown>).CanarySmokeTestFunctionArn,
      ).toEqual(localArn('lambda', 'function:platform-runbooks-prod-canary-smoke-test-not-deployed'));
    });

    it('may release the lock, read its abort request, and publish CanaryPromoted / CanaryAborted on the lifecycle bus', () => {
      const statements = statementsOf(synthesized, canary.workflow.stateMachine.role);
      // Only a definition that reads the lock may: the rollback's releases it and nothing more.
      const rollbackRole = present(synthesized.stack.rollback, 'the rollback').workflow.stateMachine.role;
      expect(statementsOf(synthesized, rollbackRole).map((statement) => statement.Sid)).not.toContain(
        'ReadLock',
      );
      expect(statements).toEqual(
        expect.arrayContaining([
          { Sid: 'ReleaseLock', Action: 'dynamodb:UpdateItem', Effect: 'Allow', Resource: table },
          // The hold reads the lock each minute for an abort request (a direct DynamoDB integration).
          { Sid: 'ReadLock', Action: 'dynamodb:GetItem', Effect: 'Allow', Resource: table },
          {
            Sid: 'PublishLifecycleEvents',
            Action: 'events:PutEvents',
            Effect: 'Allow',
            Resource: arnOf(idOf(synthesized, synthesized.stack.eventBus.bus)),
          },
        ]),
      );
      const invoke = present(
        statements.find((statement) => statement.Sid === 'InvokeRunbookFunctions'),
        'the invoke statement',
      );
      const invoked = asArray(invoke.Resource as unknown[]).filter(
        (resource) => 'Fn::GetAtt' in (resource as object),
      );
      expect(invoked).toEqual(
        [
          canary.startFunction,
          canary.trafficFunction,
          canary.observeFunction,
          canary.analyseFunction,
          canary.requestApprovalFunction,
          canary.threadFunction,
          synthesized.stack.slackNotifier.fn,
        ].map((fn) => arnOf(idOf(synthesized, fn))),
      );
    });
  });

  describe('its permissions, step by step', () => {
    it('start: finds the cluster, takes the lock, reads the lock holder’s execution', () => {
      expect(sorted(statementsOf(synthesized, canary.startAccess.role))).toEqual(
        sorted([
          ...kubernetesBase(synthesized, canary.startFunction),
          {
            Sid: 'TakeTheLock',
            Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
            Effect: 'Allow',
            Resource: table,
          },
          {
            Sid: 'ReadLockHolderExecutions',
            Action: 'states:DescribeExecution',
            Effect: 'Allow',
            Resource: localArn('states', 'execution:platform-runbooks-prod-*:*'),
          },
        ]),
      );
    });

    it('traffic: only finds the cluster (the rest is Kubernetes, through its access entries)', () => {
      expect(sorted(statementsOf(synthesized, canary.trafficAccess.role))).toEqual(
        sorted(kubernetesBase(synthesized, canary.trafficFunction)),
      );
    });

    it('observe: finds the cluster and reads the load balancer’s rules, listeners and target groups', () => {
      expect(sorted(statementsOf(synthesized, canary.observeAccess.role))).toEqual(
        sorted([
          ...kubernetesBase(synthesized, canary.observeFunction),
          {
            Sid: 'ConfirmAlbWeights',
            Action: [
              'elasticloadbalancing:DescribeRules',
              'elasticloadbalancing:DescribeListeners',
              'elasticloadbalancing:DescribeTargetGroups',
            ],
            Effect: 'Allow',
            Resource: '*',
          },
        ]),
      );
    });

    it('analyse: reads metrics and the lock, nothing in any cluster', () => {
      expect(sorted(statementsOf(synthesized, canary.analyseRole))).toEqual(
        sorted([
          ...logsAndTraces(synthesized, canary.analyseFunction),
          { Sid: 'ReadMetrics', Action: 'cloudwatch:GetMetricData', Effect: 'Allow', Resource: '*' },
          { Sid: 'ReadAbortRequests', Action: 'dynamodb:GetItem', Effect: 'Allow', Resource: table },
        ]),
      );
    });

    it('request approval and thread: write the run’s state on the lock, read the webhook and bot token secrets', () => {
      for (const [role, fn] of [
        [canary.requestApprovalRole, canary.requestApprovalFunction],
        [canary.threadRole, canary.threadFunction],
      ] as const) {
        expect(sorted(statementsOf(synthesized, role)), fn.definition.serviceName).toEqual(
          sorted([
            ...logsAndTraces(synthesized, fn),
            { Sid: 'WriteRunState', Action: 'dynamodb:UpdateItem', Effect: 'Allow', Resource: table },
            {
              Sid: 'ReadSlackSecrets',
              Action: 'secretsmanager:GetSecretValue',
              Effect: 'Allow',
              Resource: [
                secret('platform-runbooks/slack-webhook'),
                secret('platform-runbooks/slack-bot-token'),
              ],
            },
          ]),
        );
      }
    });

    it('the approval endpoint: the lock, the signing secret, and answering this workflow’s task tokens only', () => {
      const endpoint = present(canary.approvalEndpointFunction, 'the approval endpoint');
      expect(sorted(statementsOf(synthesized, present(endpoint.role, 'its role')))).toEqual(
        sorted([
          ...logsAndTraces(synthesized, endpoint),
          {
            Sid: 'ApprovalState',
            Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
            Effect: 'Allow',
            Resource: table,
          },
          {
            Sid: 'ReadSigningSecret',
            Action: 'secretsmanager:GetSecretValue',
            Effect: 'Allow',
            Resource: secret('platform-runbooks/slack-signing-secret'),
          },
          {
            Sid: 'AnswerApprovals',
            Action: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
            Effect: 'Allow',
            Resource: ref(idOf(synthesized, canary.workflow.stateMachine)),
          },
        ]),
      );
    });

    it('allows no wildcard action, and Resource "*" only for the calls that cannot be scoped', () => {
      const canaryPolicies = new Set(
        Object.entries(synthesized.template.findResources('AWS::IAM::Policy'))
          .filter(([id]) => id.startsWith('CanaryRunbook'))
          .map(([id]) => id),
      );
      const statements = policyStatements(synthesized.template).filter(({ policy }) =>
        canaryPolicies.has(policy),
      );
      expect(statements.length).toBeGreaterThan(0);
      const actions = statements.flatMap(({ statement }) => asArray(statement.Action));
      expect(actions.filter((action) => action.includes('*'))).toEqual([]);
      const unscoped = new Set(
        statements
          .filter(({ statement }) => asArray(statement.Resource).includes('*'))
          .flatMap(({ statement }) => asArray(statement.Action)),
      );
      expect([...unscoped].filter((action) => !/^(xray|logs):/.test(action)).sort()).toEqual([
        'cloudwatch:GetMetricData',
        'elasticloadbalancing:DescribeListeners',
        'elasticloadbalancing:DescribeRules',
        'elasticloadbalancing:DescribeTargetGroups',
      ]);
    });

    it('starts each function only once its permissions exist', () => {
      const functions = synthesized.template.findResources('AWS::Lambda::Function');
      for (const [fn, policy] of [
        [canary.startFunction, canary.startPolicy],
        [canary.observeFunction, present(canary.observePolicy, 'the observe policy')],
        [canary.analyseFunction, canary.analysePolicy],
      ] as const) {
        expect(functions[idOf(synthesized, fn)]?.DependsOn, fn.definition.serviceName).toContain(
          idOf(synthesized, policy),
        );
      }
    });
  });

  describe('its Kubernetes access', () => {
    it('gives start and traffic edit, observe view, in the clusters and namespaces of the services only', () => {
      for (const [access, fn, policy, groups] of [
        [canary.startAccess, canary.startFunction, 'AmazonEKSEditPolicy', undefined],
        [
          canary.trafficAccess,
          canary.trafficFunction,
          'AmazonEKSEditPolicy',
          ['platform-runbooks:canary-route-editors'],
        ],
        [
          canary.observeAccess,
          canary.observeFunction,
          'AmazonEKSViewPolicy',
          ['platform-runbooks:canary-route-readers'],
        ],
      ] as const) {
        const entries = entriesOf(synthesized, access.role);
        // The example grants checkout, payments and search in prod-eks: the canary's services are in two.
        expect(entries.map((entry) => entry.Properties)).toEqual([
          {
            ClusterName: 'prod-eks',
            PrincipalArn: arnOf(idOf(synthesized, access.role)),
            Type: 'STANDARD',
            AccessPolicies: [
              {
                PolicyArn: accessPolicy(policy),
                AccessScope: { Type: 'namespace', Namespaces: ['checkout', 'search'] },
              },
            ],
            // The routers' own resources (HTTPRoutes, TargetGroupBindings): no EKS access policy covers them.
            ...(groups && { KubernetesGroups: [...groups] }),
          },
        ]);
        // Created once the function that runs as the role exists (IAM propagation).
        expect(entries[0]?.DependsOn, fn.definition.serviceName).toContain(idOf(synthesized, fn));
      }
    });

    it('gives no access to clusters no service is in; with the alb router alone, only observe a group', () => {
      const raw = withCanary((services) => services.filter((service) => service.name === 'checkout'));
      raw.eksClusters = [
        { name: 'prod-eks', namespaces: ['checkout', 'payments', 'search'] },
        { name: 'tools-eks', namespaces: ['ingress'] },
      ];
      const other = synth(raw);
      const runbook = canaryOf(other);
      expect(runbook.workloadClusters).toEqual([{ name: 'prod-eks', namespaces: ['checkout'] }]);
      for (const [access, groups] of [
        [runbook.startAccess, undefined],
        // The ALB's Ingress is patched under AmazonEKSEditPolicy; its TargetGroupBindings are read through RBAC.
        [runbook.trafficAccess, undefined],
        [runbook.observeAccess, ['platform-runbooks:canary-route-readers']],
      ] as const) {
        const entries = entriesOf(other, access.role);
        expect(entries.map((entry) => entry.Properties.ClusterName)).toEqual(['prod-eks']);
        expect(entries[0]?.Properties.KubernetesGroups).toEqual(groups);
        expect(access.clusters).toEqual([{ name: 'prod-eks', namespaces: ['checkout'] }]);
      }
      expect(runbook.kubernetesGroups).toEqual([
        {
          group: 'platform-runbooks:canary-route-readers',
          step: 'observe',
          grants: [{ namespaces: ['prod-eks/checkout'], rules: [TARGET_GROUP_BINDING_RULE] }],
        },
      ]);
    });

    it('gives the groups and the Roles they need as the CanaryKubernetesGroups output', () => {
      const [output, ...others] = Object.values(synthesized.template.findOutputs('CanaryKubernetesGroups'));
      expect(others).toEqual([]);
      expect(present(output, 'the output').Description).toMatch(/a Role with these rules and a RoleBinding/);
      expect(JSON.parse((output as { Value: string }).Value)).toEqual({
        'platform-runbooks:canary-route-editors': [
          { namespaces: ['prod-eks/search'], rules: [HTTPROUTE_RULE(['get', 'patch'])] },
        ],
        'platform-runbooks:canary-route-readers': [
          { namespaces: ['prod-eks/checkout'], rules: [TARGET_GROUP_BINDING_RULE] },
          { namespaces: ['prod-eks/search'], rules: [HTTPROUTE_RULE(['get'])] },
        ],
      });
    });

    it('with the gateway-api router alone, gives both groups the HTTPRoute rules only', () => {
      const gatewayOnly = synth(
        withCanary((services) => services.filter((service) => service.name === 'search')),
      );
      const runbook = canaryOf(gatewayOnly);
      expect(entriesOf(gatewayOnly, runbook.trafficAccess.role)[0]?.Properties.KubernetesGroups).toEqual([
        'platform-runbooks:canary-route-editors',
      ]);
      expect(entriesOf(gatewayOnly, runbook.observeAccess.role)[0]?.Properties.KubernetesGroups).toEqual([
        'platform-runbooks:canary-route-readers',
      ]);
      const output = Object.values(gatewayOnly.template.findOutputs('CanaryKubernetesGroups'))[0];
      expect(JSON.parse((output as { Value: string }).Value)).toEqual({
        'platform-runbooks:canary-route-editors': [
          { namespaces: ['prod-eks/search'], rules: [HTTPROUTE_RULE(['get', 'patch'])] },
        ],
        'platform-runbooks:canary-route-readers': [
          { namespaces: ['prod-eks/search'], rules: [HTTPROUTE_RULE(['get'])] },
        ],
      });
    });

    it('with the replica-ratio router alone, gives no group and no output: the access policies cover Deployments', () => {
      const ratioOnly = synth(
        withCanary((services) =>
          services
            .filter((service) => service.name === 'search')
            .map((service) => ({ ...service, router: { type: 'replica-ratio', totalReplicas: 10 } })),
        ),
      );
      const runbook = canaryOf(ratioOnly);
      expect(runbook.kubernetesGroups).toEqual([]);
      for (const access of [runbook.startAccess, runbook.trafficAccess, runbook.observeAccess]) {
        expect(entriesOf(ratioOnly, access.role)[0]?.Properties.KubernetesGroups).toBeUndefined();
      }
      expect(ratioOnly.template.findOutputs('CanaryKubernetesGroups')).toEqual({});
    });
  });

  describe('its functions’ environment', () => {
    it('tells each function only what it reads', () => {
      const lockTable = ref(idOf(synthesized, synthesized.stack.lockTable.table));
      const slack = {
        LOCK_TABLE_NAME: lockTable,
        WEBHOOK_SECRET_ID: 'platform-runbooks/slack-webhook',
        SLACK_BOT_TOKEN_SECRET_ID: 'platform-runbooks/slack-bot-token',
        SLACK_CHANNEL_ID: 'C0123ABCD',
      };
      const environments: [RunbookFunction, Record<string, unknown>][] = [
        [
          canary.startFunction,
          {
            LOCK_TABLE_NAME: lockTable,
            ACCOUNT_ID: { Ref: 'AWS::AccountId' },
            LOCK_TTL_SECONDS: String(runtime().lockTtlSeconds),
          },
        ],
        [canary.trafficFunction, {}],
        [canary.observeFunction, {}],
        [canary.analyseFunction, { LOCK_TABLE_NAME: lockTable }],
        [canary.requestApprovalFunction, slack],
        [canary.threadFunction, { ...slack, ENVIRONMENT_NAME: 'prod' }],
        [
          present(canary.approvalEndpointFunction, 'the approval endpoint'),
          {
            LOCK_TABLE_NAME: lockTable,
            SLACK_SIGNING_SECRET_ID: 'platform-runbooks/slack-signing-secret',
            CANARY_APPROVERS: JSON.stringify({ 'prod-eks/checkout/checkout-api': ['U0123ABCDE'] }),
          },
        ],
      ];
      for (const [fn, expected] of environments) {
        expect(ownEnvironment(synthesized, fn), fn.definition.serviceName).toEqual(expected);
      }
      expect(runtime().lockTtlSeconds).toBe(runtime().timeoutMinutes * 60);
    });

    it('without a Slack app, tells the Slack steps the webhook only', () => {
      const webhookOnly = synth(withCanary((services) => services, WEBHOOK_ONLY));
      const runbook = canaryOf(webhookOnly);
      for (const fn of [runbook.requestApprovalFunction, runbook.threadFunction]) {
        const own = ownEnvironment(webhookOnly, fn);
        expect(own.WEBHOOK_SECRET_ID).toBe('platform-runbooks/slack-webhook');
        expect(Object.keys(own).filter((name) => name.startsWith('SLACK_'))).toEqual([]);
      }
      expect(
        statementsOf(webhookOnly, runbook.threadRole).find(
          (statement) => statement.Sid === 'ReadSlackSecrets',
        )?.Resource,
      ).toEqual(secret('platform-runbooks/slack-webhook'));
    });
  });

  describe('its Slack approval endpoint', () => {
    it('is a function URL with auth NONE (Slack cannot sign SigV4), given as the CanaryApprovalUrl output', () => {
      const endpoint = present(canary.approvalEndpointFunction, 'the approval endpoint');
      const url = present(canary.approvalUrl, 'the function URL');
      synthesized.template.hasResourceProperties('AWS::Lambda::Url', {
        AuthType: 'NONE',
        TargetFunctionArn: arnOf(idOf(synthesized, endpoint)),
        Cors: Match.absent(),
      });
      synthesized.template.resourceCountIs('AWS::Lambda::Url', 1);
      expect(synthesized.template.findOutputs('CanaryApprovalUrl')).toEqual({
        CanaryApprovalUrl: {
          Description: expect.stringContaining('Interactivity Request URL'),
          Value: { 'Fn::GetAtt': [idOf(synthesized, url), 'FunctionUrl'] },
        },
      });
      expect(endpoint.definition).toBe(canaryApprovalEndpoint);
    });

    it('acknowledges the public URL’s Control Tower findings on the endpoint alone, with the reason', () => {
      const publicRules = [
        'cdk-validator-cfnguard::lambda_function_url_auth_check',
        'cdk-validator-cfnguard::lambda_function_public_access_prohibited_check',
      ];
      const found = acknowledgementsIn(synthesized.stack).filter(({ id }) => publicRules.includes(id));
      const endpointPath = present(canary.approvalEndpointFunction, 'the endpoint').node.path;
      expect(found.map(({ id, path }) => [id, path.slice(endpointPath.length)]).sort()).toEqual(
        [
          ['cdk-validator-cfnguard::lambda_function_public_access_prohibited_check', '/invoke-function'],
          ['cdk-validator-cfnguard::lambda_function_public_access_prohibited_check', '/invoke-function-url'],
          ['cdk-validator-cfnguard::lambda_function_url_auth_check', '/FunctionUrl'],
        ].sort(),
      );
      for (const { reason } of found) expect(reason).toMatch(/signing secret/);
    });

    it('is not deployed without a Slack app: approvals are answered from the CLI', () => {
      const webhookOnly = synth(withCanary((services) => services, WEBHOOK_ONLY));
      const runbook = canaryOf(webhookOnly);
      expect(runbook.approvalEndpointFunction).toBeUndefined();
      webhookOnly.template.resourceCountIs('AWS::Lambda::Url', 0);
      expect(webhookOnly.template.findOutputs('CanaryApprovalUrl')).toEqual({});
      expect(Object.keys(webhookOnly.template.findOutputs('CanaryStateMachineArn'))).toEqual([
        'CanaryStateMachineArn',
      ]);
    });

    it('is not deployed when no service waits for approval', () => {
      const noApproval = synth(
        withCanary((services) =>
          services.map((service) =>
            Object.fromEntries(Object.entries(service).filter(([key]) => key !== 'approval')),
          ),
        ),
      );
      expect(canaryOf(noApproval).approvalEndpointFunction).toBeUndefined();
      noApproval.template.resourceCountIs('AWS::Lambda::Url', 0);
      noApproval.template.resourceCountIs('AWS::Lambda::Permission', 0);
    });
  });

  describe('what depends on the routers and smoke tests', () => {
    it('reads no load balancer without the alb router', () => {
      const gatewayOnly = synth(
        withCanary((services) => services.filter((service) => service.name === 'search')),
      );
      const runbook = canaryOf(gatewayOnly);
      expect(runbook.observePolicy).toBeUndefined();
      const actions = statementsOf(gatewayOnly, runbook.observeAccess.role).flatMap((statement) =>
        asArray(statement.Action),
      );
      expect(actions.filter((action) => action.startsWith('elasticloadbalancing:'))).toEqual([]);
    });

    it('deploys the smoke-test function, with no AWS permission, when a service has a smoke test', () => {
      const smoke = synth(
        withCanary((services) =>
          services.map((service) =>
            service.name === 'search'
              ? { ...service, smokeTest: { url: 'https://smoke.example.com/search' } }
              : service,
          ),
        ),
      );
      const runbook = canaryOf(smoke);
      const fn = present(runbook.smokeTestFunction, 'the smoke-test function');
      expect(fn.definition).toBe(canaryFunctions.smokeTest);
      expect(sorted(statementsOf(smoke, present(fn.role, 'its role')))).toEqual(
        sorted(logsAndTraces(smoke, fn)),
      );
      expect(ownEnvironment(smoke, fn)).toEqual({});
      const machine = smoke.template.findResources('AWS::StepFunctions::StateMachine')[
        idOf(smoke, runbook.workflow.stateMachine)
      ];
      expect(
        (present(machine, 'the state machine').Properties.DefinitionSubstitutions as Record<string, unknown>)
          .CanarySmokeTestFunctionArn,
      ).toEqual(arnOf(idOf(smoke, fn)));
    });
  });

  describe('in the private-cluster example', () => {
    it('runs every canary function in the VPC, and creates the endpoints they reach', () => {
      const vpc = synth(vpcExampleConfig());
      const runbook = canaryOf(vpc);
      const functions = vpc.template.findResources('AWS::Lambda::Function');
      const canaryFunctionsDeployed = [
        runbook.startFunction,
        runbook.trafficFunction,
        runbook.observeFunction,
        runbook.analyseFunction,
        present(runbook.smokeTestFunction, 'the smoke-test function'),
        runbook.requestApprovalFunction,
        runbook.threadFunction,
      ];
      for (const fn of canaryFunctionsDeployed) {
        expect(functions[idOf(vpc, fn)]?.Properties.VpcConfig, fn.definition.serviceName).toBeDefined();
      }
      const services = Object.values(vpc.template.findResources('AWS::EC2::VPCEndpoint')).map((endpoint) =>
        JSON.stringify(endpoint.Properties.ServiceName),
      );
      for (const service of ['elasticloadbalancing', 'states', 'secretsmanager', 'monitoring', 'eks']) {
        expect(
          services.some((name) => name.includes(`.${service}"`)),
          service,
        ).toBe(true);
      }
    });
  });
});

describe('CanaryRunbook with a stand-in definition', () => {
  it('provides every substitution the definition names, each function ARN among them', () => {
    const config = parseConfig(exampleConfig(), 'the example');
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Canary');
    const commons = createRunbookCommons(stack, config);
    const runbook = new CanaryRunbook(stack, 'Canary', {
      shared: commons.resources,
      settings: present(config.canary, 'the canary section'),
      clusters: config.eksClusters,
      webhookSecretName: config.slack.webhookSecretName,
      slackApp: config.slack.app,
      definitionPath: fileURLToPath(new URL('fixtures/canary-minimal.asl.json', import.meta.url)),
    });
    const template = Template.fromStack(stack);
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
    const substitutions = present(machine, 'the state machine').Properties.DefinitionSubstitutions as Record<
      string,
      unknown
    >;
    const functionArn = (fn: RunbookFunction) => ({
      'Fn::GetAtt': [stack.getLogicalId(fn.node.defaultChild as never), 'Arn'],
    });
    expect(Object.keys(substitutions).sort()).toEqual(
      [
        ...Object.values(canaryFunctions).map((entry) => entry.substitution),
        'Services',
        'EnvironmentName',
        'EventBusName',
        'LockTableName',
        'OnCallTopicArn',
        'NotifySlackFunctionArn',
      ].sort(),
    );
    expect(substitutions.CanaryStartFunctionArn).toEqual(functionArn(runbook.startFunction));
    expect(substitutions.CanaryRequestApprovalFunctionArn).toEqual(
      functionArn(runbook.requestApprovalFunction),
    );
    expect(substitutions.EnvironmentName).toBe('prod');
  });

  it('refuses a service in a namespace its cluster does not grant', () => {
    const config = parseConfig(exampleConfig(), 'the example');
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Canary');
    const commons = createRunbookCommons(stack, config);
    expect(
      () =>
        new CanaryRunbook(stack, 'Canary', {
          shared: commons.resources,
          settings: present(config.canary, 'the canary section'),
          clusters: [{ name: 'prod-eks', namespaces: ['checkout'] }],
          webhookSecretName: config.slack.webhookSecretName,
        }),
    ).toThrow('canary: prod-eks/search is not granted in eksClusters, so no access entry may reach it');
  });
});
