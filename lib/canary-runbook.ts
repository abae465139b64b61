import { fileURLToPath } from 'node:url';
import { ArnFormat, CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import { type Policy, PolicyStatement, type Role } from 'aws-cdk-lib/aws-iam';
import { type FunctionUrl, FunctionUrlAuthType } from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { canaryApprovalEndpoint, canaryFunctions } from '../lambdas/canary/functions';
import { CANARY_REQUEST_SOURCES, CANARY_REQUESTED } from '../lambdas/canary/request';
import { TARGET_GROUP_BINDING_APIS } from '../lambdas/kubernetes/resources';
import { type CanaryRouter, type CanarySection, canaryRuntime } from './config/canary';
import type { EksCluster, SlackApp } from './config/shared';
import { type EksClusterAccess, EksRunbookAccess } from './eks-runbook-access';
import { acknowledgeResource, stepPolicy, stepRole } from './runbook-step-roles';
import { RunbookFunction } from './runbook-function';
import type { RunbookSharedResources } from './runbook-shared-resources';
import { RunbookStateMachine } from './runbook-state-machine';

export interface CanaryRunbookProps {
  /** The shared resources: lifecycle bus (the trigger's), lock table, on-call topic, notifier, logs, network. */
  readonly shared: RunbookSharedResources;
  /** The `canary` section: the services, their routers, step plans, checks, approvals and smoke tests. */
  readonly settings: CanarySection;
  /** The clusters and their granted namespaces (`eksClusters`); each service's must be among them. */
  readonly clusters: EksCluster[];
  /**
   * The incoming-webhook secret (`slack.webhookSecretName`), the one the shared notifier reads: the run's
   * Slack steps fall back to it without a Slack app.
   */
  readonly webhookSecretName: string;
  /**
   * The Slack app (`slack.app`): a thread per run, its parent updated at each step, and, for services with
   * `approval`, the Approve / Reject buttons and their endpoint.
   * @default - webhook messages only; approvals are answered from the CLI
   */
  readonly slackApp?: SlackApp;
  /**
   * The ASL definition (JSONPath), absolute path.
   * @default - `state-machines/canary.asl.json` in the repository
   */
  readonly definitionPath?: string;
}

/**
 * The Kubernetes groups of the traffic and observe steps' access entries, for the routers' own resources: the EKS
 * access policies cover Kubernetes' own API groups only, not `gateway.networking.k8s.io` (the gateway-api router's
 * HTTPRoutes) nor the TargetGroupBindings' groups (the alb router's), so each namespace of such a service binds
 * these groups to a Role with CANARY_ROUTER_RULES. Editors change a route (traffic); readers read the routers'
 * resources (observe).
 */
export const CANARY_ROUTE_EDITORS_GROUP = 'platform-runbooks:canary-route-editors';
export const CANARY_ROUTE_READERS_GROUP = 'platform-runbooks:canary-route-readers';

/** A rule of a namespaced RBAC Role, as its `rules` take it. */
export interface KubernetesRoleRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

type RbacRouter = Exclude<CanaryRouter['type'], 'replica-ratio'>;
type RbacStep = 'traffic' | 'observe';

/** Which group each step's access entry carries. */
const STEP_GROUPS: Record<RbacStep, string> = {
  traffic: CANARY_ROUTE_EDITORS_GROUP,
  observe: CANARY_ROUTE_READERS_GROUP,
};

/**
 * What each router needs of RBAC, by step, in each namespace of a service using it (the replica-ratio router reads
 * and scales Deployments, which the access policies cover). gateway-api: the route read and patched. alb: observe
 * lists the TargetGroupBindings in both groups that serve them, the AWS Load Balancer Controller's and EKS Auto
 * Mode's (the client reads both; a Role naming a group the cluster does not serve is valid); traffic patches the
 * Ingress, which AmazonEKSEditPolicy covers.
 */
export const CANARY_ROUTER_RULES: Record<
  RbacRouter,
  Partial<Record<RbacStep, readonly KubernetesRoleRule[]>>
> = {
  'gateway-api': {
    traffic: [
      { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes'], verbs: ['get', 'patch'] },
    ],
    observe: [{ apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes'], verbs: ['get'] }],
  },
  alb: {
    observe: [
      {
        apiGroups: TARGET_GROUP_BINDING_APIS.map((api) => api.group),
        resources: ['targetgroupbindings'],
        verbs: ['list'],
      },
    ],
  },
};

/** A Kubernetes group a step's access entry carries, and the RBAC the clusters must bind to it. */
export interface CanaryKubernetesGroup {
  readonly group: string;
  readonly step: RbacStep;
  /** In each of these namespaces (`<cluster>/<namespace>`), a Role with these rules, bound to the group. */
  readonly grants: readonly {
    readonly namespaces: readonly string[];
    readonly rules: readonly KubernetesRoleRule[];
  }[];
}

/**
 * The ELBv2 reads that confirm an ALB step on the load balancer itself (the controller reconciles
 * asynchronously): the listener rules' forward weights, and the target groups they name. None defines a
 * resource type in the Service Authorization Reference (Elastic Load Balancing V2), so they take "*".
 */
const ALB_READS = [
  'elasticloadbalancing:DescribeRules',
  'elasticloadbalancing:DescribeListeners',
  'elasticloadbalancing:DescribeTargetGroups',
] as const;

/**
 * "Promote a new version step by step, or take it back": a `CanaryRequested` event on the lifecycle bus (put
 * by CI or the CLI) starts the workflow, which takes the workload lock, deploys the new version to the canary
 * Deployment, shifts traffic step by step (ALB weights, HTTPRoute weights or replica ratio), judges each step
 * from CloudWatch, waits for a person's approval where configured, and promotes or aborts. The workflow, its
 * trigger and its alarms are the kit's `RunbookStateMachine`; this construct adds the Lambdas
 * (`canaryFunctions`), each with its own role and only what it uses (Service Authorization Reference):
 * - start: an `edit` access entry (it patches the canary Deployment), the lock, and the lock holder's
 *   execution (a stale lock is taken over);
 * - traffic: an `edit` access entry (Ingress annotation, HTTPRoute weights, replicas, the promotion);
 * - observe: a `view` access entry, and with the alb router the ELBv2 reads that confirm a step (with the
 *   gateway-api or alb router, observe's entry also puts its role in the readers' group, and with gateway-api
 *   traffic's in the editors': `kubernetesGroups`, given as the `CanaryKubernetesGroups` output);
 * - analyse: `cloudwatch:GetMetricData` and reading the lock (an abort asked by an alarm or a person);
 * - smoke test (only when a service has one): no AWS permission;
 * - request approval and thread: writing the run's state on the lock, and the Slack secrets;
 * - the Slack approval endpoint (only with `slack.app` and a service with `approval`): a function URL, the
 *   lock, the signing secret, and answering the workflow's task token.
 * The Kubernetes access entries are scoped to the clusters and namespaces the services are in, nothing more.
 */
export class CanaryRunbook extends Construct {
  public readonly startFunction: RunbookFunction;
  public readonly trafficFunction: RunbookFunction;
  public readonly observeFunction: RunbookFunction;
  public readonly analyseFunction: RunbookFunction;
  /** Only when some service has a `smokeTest`. */
  public readonly smokeTestFunction?: RunbookFunction;
  public readonly requestApprovalFunction: RunbookFunction;
  public readonly threadFunction: RunbookFunction;
  /** Start's role: an `edit` access entry per cluster the services are in. */
  public readonly startAccess: EksRunbookAccess;
  /** Traffic's role: an `edit` access entry per cluster the services are in. */
  public readonly trafficAccess: EksRunbookAccess;
  /** Observe's role: a `view` access entry per cluster the services are in. */
  public readonly observeAccess: EksRunbookAccess;
  /** Start's AWS permissions: the lock, and the lock holder's execution. */
  public readonly startPolicy: Policy;
  /** Observe's AWS permissions, with the alb router only: the load balancer reads. */
  public readonly observePolicy?: Policy;
  /** Analyse's role: metrics and the lock, no Kubernetes access. */
  public readonly analyseRole: Role;
  /** Analyse's AWS permissions. */
  public readonly analysePolicy: Policy;
  public readonly requestApprovalRole: Role;
  public readonly threadRole: Role;
  /** The Slack buttons' endpoint: only with `slack.app` and some service with `approval`. */
  public readonly approvalEndpointFunction?: RunbookFunction;
  /** Its URL: Slack's Interactivity Request URL. */
  public readonly approvalUrl?: FunctionUrl;
  /** The clusters and namespaces the access entries are scoped to: where the services are. */
  public readonly workloadClusters: readonly EksClusterAccess[];
  /**
   * The Kubernetes groups the access entries carry, with the Roles the clusters must bind to them (no EKS access
   * policy covers the routers' resources); none without a gateway-api or alb service.
   */
  public readonly kubernetesGroups: readonly CanaryKubernetesGroup[];
  /** The workflow with its trigger (the `CanaryRequested` rule on the lifecycle bus), dead-letter queue and alarms. */
  public readonly workflow: RunbookStateMachine;

  constructor(scope: Construct, id: string, props: CanaryRunbookProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { shared, settings, slackApp } = props;
    const { environment } = shared;
    const runtime = canaryRuntime({ environment, settings });
    this.workloadClusters = workloadClusters(runtime.workloads, props.clusters);
    this.kubernetesGroups = kubernetesGroups(settings);
    const groupsOf = (step: RbacStep) =>
      this.kubernetesGroups.filter((entry) => entry.step === step).map((entry) => entry.group);

    // Only the steps that use the lock (CanaryLock) are told its table.
    const lockTable = { LOCK_TABLE_NAME: shared.lockTable.tableName };
    const lock = (sid: string, actions: string[]): PolicyStatement =>
      new PolicyStatement({ sid, actions, resources: [shared.lockTable.tableArn] });
    const lockHolderExecutions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `platform-runbooks-${environment}-*:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    // A secret's ARN ends in "-" and 6 random characters, unknown here: match exactly those six.
    const secretArn = (secretId: string, name: string): string =>
      `${Secret.fromSecretNameV2(this, secretId, name).secretArn}-??????`;
    // Built here rather than through `shared.kubernetesAccess`, which narrows the clusters but not their
    // namespaces: a canary step may act only where a service is.
    const access = (accessId: string, accessLevel: 'view' | 'edit', description: string, groups: string[]) =>
      new EksRunbookAccess(this, accessId, {
        accessLevel,
        description: `${description} (${environment})`,
        clusters: this.workloadClusters,
        ...(groups.length > 0 && { kubernetesGroups: groups }),
      });
    const lambda = (
      functionId: string,
      definition: (typeof canaryFunctions)[keyof typeof canaryFunctions],
      role: Role,
      environmentVariables: Record<string, string> = {},
      policy?: Policy,
    ): RunbookFunction => {
      const fn = new RunbookFunction(this, functionId, {
        definition,
        platform: shared,
        role,
        environment: environmentVariables,
      });
      // The function must not run before its permissions exist (CDK only orders it after the role's
      // DefaultPolicy).
      if (policy) fn.node.defaultChild?.node.addDependency(policy);
      return fn;
    };

    // Start: the lock, then the canary Deployment. --------------------------------------------------------
    this.startAccess = access(
      'StartAccess',
      'edit',
      'Canary start Lambda: takes the workload lock, deploys the new version to the canary Deployment',
      [],
    );
    this.startPolicy = stepPolicy(this, 'StartPolicy', this.startAccess.role, [
      lock('TakeTheLock', ['dynamodb:GetItem', 'dynamodb:UpdateItem']),
      // Whether the execution holding a lock still runs (a stale lock is taken over). Any runbook of this
      // environment may hold it, so the executions of every state machine named for it.
      new PolicyStatement({
        sid: 'ReadLockHolderExecutions',
        actions: ['states:DescribeExecution'],
        resources: [lockHolderExecutions],
      }),
    ]);
    acknowledgeResource(
      this.startPolicy,
      lockHolderExecutions,
      `states:DescribeExecution (read-only) on the executions of the state machines named platform-runbooks-${environment}-*: the lock holder may be any runbook of this environment, and execution names are generated per run.`,
    );
    this.startFunction = lambda(
      'StartFunction',
      canaryFunctions.start,
      this.startAccess.role,
      {
        ...lockTable,
        // Start acts only on CanaryRequested events of this account (resolved at deploy); the lock is held
        // no longer than a run can last.
        ACCOUNT_ID: stack.account,
        LOCK_TTL_SECONDS: String(runtime.lockTtlSeconds),
      },
      this.startPolicy,
    );
    this.startAccess.createEntriesAfter(this.startFunction);

    // Traffic: the router's weights, the promotion, the canary's replicas. --------------------------------
    this.trafficAccess = access(
      'TrafficAccess',
      'edit',
      "Canary traffic Lambda: sets the router's weights, promotes the canary's pod template, scales the canary",
      groupsOf('traffic'),
    );
    this.trafficFunction = lambda('TrafficFunction', canaryFunctions.traffic, this.trafficAccess.role);
    this.trafficAccess.createEntriesAfter(this.trafficFunction);

    // Observe: whether a step's weight really routes. ------------------------------------------------------
    this.observeAccess = access(
      'ObserveAccess',
      'view',
      "Canary observe Lambda: reads the router's state, the load balancer's rules and the rollouts",
      groupsOf('observe'),
    );
    if (runtime.routers.includes('alb')) {
      this.observePolicy = stepPolicy(this, 'ObservePolicy', this.observeAccess.role, [
        new PolicyStatement({ sid: 'ConfirmAlbWeights', actions: [...ALB_READS], resources: ['*'] }),
      ]);
      Validations.of(this.observePolicy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: `Read-only calls that define no resource types in the Service Authorization Reference (Elastic Load Balancing V2), so they cannot be scoped: ${ALB_READS.join(', ')}. They confirm an ALB step's weights on the load balancer.`,
      });
    }
    this.observeFunction = lambda(
      'ObserveFunction',
      canaryFunctions.observe,
      this.observeAccess.role,
      {},
      this.observePolicy,
    );
    this.observeAccess.createEntriesAfter(this.observeFunction);
    if (this.kubernetesGroups.length > 0) {
      // Named at the stack's level, as the stack names its outputs: the RBAC to apply in each cluster before a run.
      new CfnOutput(this, 'KubernetesGroups', {
        description:
          "The canary's Kubernetes groups (access entries of its traffic and observe roles), each with what the " +
          'clusters must bind to it: in each namespace (<cluster>/<namespace>) listed, a Role with these rules ' +
          'and a RoleBinding to the group. No EKS access policy covers these API groups. Apply the Role as a ' +
          'manifest: kubectl create role refuses a resource the cluster does not serve.',
        value: JSON.stringify(
          Object.fromEntries(this.kubernetesGroups.map((entry) => [entry.group, entry.grants])),
        ),
      }).overrideLogicalId('CanaryKubernetesGroups');
    }

    // Analyse: CloudWatch, and whether an abort was asked. ----------------------------------------------------
    this.analyseRole = stepRole(
      this,
      'AnalyseRole',
      'Canary analyse Lambda: reads metrics and the lock',
      environment,
    );
    this.analysePolicy = stepPolicy(this, 'AnalysePolicy', this.analyseRole, [
      new PolicyStatement({ sid: 'ReadMetrics', actions: ['cloudwatch:GetMetricData'], resources: ['*'] }),
      lock('ReadAbortRequests', ['dynamodb:GetItem']),
    ]);
    Validations.of(this.analysePolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        "cloudwatch:GetMetricData (read-only, the checks' series) defines no resource types in the Service Authorization Reference, so it cannot be scoped.",
    });
    this.analyseFunction = lambda(
      'AnalyseFunction',
      canaryFunctions.analyse,
      this.analyseRole,
      lockTable,
      this.analysePolicy,
    );

    // Smoke test: a webhook, no AWS call. --------------------------------------------------------------------
    if (runtime.smokeTests) {
      const smokeTestRole = stepRole(
        this,
        'SmokeTestRole',
        "Canary smoke-test Lambda: calls a service's smoke-test webhook",
        environment,
      );
      this.smokeTestFunction = lambda('SmokeTestFunction', canaryFunctions.smokeTest, smokeTestRole);
    }

    // Slack: the approval request and the run's thread. -----------------------------------------------------
    // Both write to the lock item (the task token, the status the CLI reads) with conditional UpdateItems
    // only, never reading it; they post through the Slack app when there is one, else the webhook.
    const slackSecrets = [secretArn('WebhookSecret', props.webhookSecretName)];
    if (slackApp) slackSecrets.push(secretArn('BotTokenSecret', slackApp.botTokenSecretName));
    const slackEnvironment: Record<string, string> = {
      ...lockTable,
      WEBHOOK_SECRET_ID: props.webhookSecretName,
      ...(slackApp && {
        SLACK_BOT_TOKEN_SECRET_ID: slackApp.botTokenSecretName,
        SLACK_CHANNEL_ID: slackApp.channelId,
      }),
    };
    const slackStep = (
      stepId: string,
      description: string,
      definition: typeof canaryFunctions.requestApproval | typeof canaryFunctions.thread,
      stepEnvironment: Record<string, string>,
    ): { role: Role; fn: RunbookFunction } => {
      const role = stepRole(this, `${stepId}Role`, description, environment);
      const policy = stepPolicy(this, `${stepId}Policy`, role, [
        lock('WriteRunState', ['dynamodb:UpdateItem']),
        new PolicyStatement({
          sid: 'ReadSlackSecrets',
          actions: ['secretsmanager:GetSecretValue'],
          resources: slackSecrets,
        }),
      ]);
      return { role, fn: lambda(`${stepId}Function`, definition, role, stepEnvironment, policy) };
    };
    const requestApproval = slackStep(
      'RequestApproval',
      'Canary request-approval Lambda: records the task token, asks the approvers in Slack',
      canaryFunctions.requestApproval,
      slackEnvironment,
    );
    this.requestApprovalRole = requestApproval.role;
    this.requestApprovalFunction = requestApproval.fn;
    const thread = slackStep(
      'Thread',
      "Canary thread Lambda: the run's Slack thread and the status the CLI reads",
      canaryFunctions.thread,
      // The environment's name heads the thread's messages.
      { ...slackEnvironment, ENVIRONMENT_NAME: environment },
    );
    this.threadRole = thread.role;
    this.threadFunction = thread.fn;

    // Workflow ----------------------------------------------------------------------------------------------
    const functions = [
      this.startFunction,
      this.trafficFunction,
      this.observeFunction,
      this.analyseFunction,
      ...(this.smokeTestFunction ? [this.smokeTestFunction] : []),
      this.requestApprovalFunction,
      this.threadFunction,
    ];
    this.workflow = new RunbookStateMachine(this, 'Workflow', {
      runbook: 'canary',
      shared,
      definitionPath:
        props.definitionPath ?? fileURLToPath(new URL('../state-machines/canary.asl.json', import.meta.url)),
      functions,
      substitutions: {
        // Services: the settings as a JSON document in an ASL string, read back by the request parser.
        ...runtime.substitutions,
        // No service has a smoke test, so no function is deployed and the state that would call it is never
        // entered; the definition still names it, so it gets an ARN that says why a call would fail.
        ...(!this.smokeTestFunction && {
          [canaryFunctions.smokeTest.substitution]: stack.formatArn({
            service: 'lambda',
            resource: 'function',
            resourceName: `platform-runbooks-${environment}-canary-smoke-test-not-deployed`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        }),
      },
      // The longest run of any service (steps, repeats, the approval wait…): the approval's own timeout
      // fires first and aborts, taking traffic back to stable, which an execution timeout would skip.
      timeout: Duration.minutes(runtime.timeoutMinutes),
      trigger: {
        kind: 'event',
        description: `Starts the canary promotion (${environment}) when CI or the CLI asks for one`,
        eventBus: shared.eventBus,
        eventPattern: { source: [...CANARY_REQUEST_SOURCES], detailType: [CANARY_REQUESTED] },
        // A canary started half an hour after CI asked would ship what CI has since moved past.
        maxEventAge: Duration.minutes(30),
      },
    });

    // The Slack buttons' endpoint ---------------------------------------------------------------------------
    if (slackApp && runtime.approval) {
      const endpointRole = stepRole(
        this,
        'ApprovalEndpointRole',
        "Canary approval endpoint: Slack's Approve / Reject buttons",
        environment,
      );
      const endpointPolicy = stepPolicy(this, 'ApprovalEndpointPolicy', endpointRole, [
        lock('ApprovalState', ['dynamodb:GetItem', 'dynamodb:UpdateItem']),
        new PolicyStatement({
          sid: 'ReadSigningSecret',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [secretArn('SigningSecret', slackApp.signingSecretName)],
        }),
        // The Service Authorization Reference lists no resource type for these, yet Step Functions
        // authorizes a task token's answer against the state machine that issued it (its AccessDenied names
        // stateMachine:<name>; CDK's grantTaskResponse grants exactly this): this workflow's tokens only.
        new PolicyStatement({
          sid: 'AnswerApprovals',
          actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
          resources: [this.workflow.stateMachine.stateMachineArn],
        }),
      ]);
      this.approvalEndpointFunction = new RunbookFunction(this, 'ApprovalEndpointFunction', {
        definition: canaryApprovalEndpoint,
        platform: shared,
        role: endpointRole,
        environment: {
          ...lockTable,
          SLACK_SIGNING_SECRET_ID: slackApp.signingSecretName,
          CANARY_APPROVERS: JSON.stringify(runtime.approvers),
        },
      });
      this.approvalEndpointFunction.node.defaultChild?.node.addDependency(endpointPolicy);
      // Slack cannot sign a request with SigV4: the URL is public, and the handler refuses any request whose
      // Slack signature (the app's signing secret) does not verify or that is older than 5 minutes.
      this.approvalUrl = this.approvalEndpointFunction.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
      const publicReason =
        "Slack's interactivity requests cannot carry SigV4 (AWS_IAM auth), so the Slack approval endpoint's function URL is public (auth NONE) by design; the handler authenticates each request itself: Slack's signature with the app's signing secret, requests older than 5 minutes refused, only configured approvers accepted, a second click ignored.";
      Validations.of(this.approvalUrl).acknowledge({
        id: 'cdk-validator-cfnguard::lambda_function_url_auth_check',
        reason: publicReason,
      });
      // The two permissions a public URL needs: principal "*", through the URL only.
      for (const permission of ['invoke-function-url', 'invoke-function']) {
        Validations.of(this.approvalEndpointFunction.node.findChild(permission)).acknowledge({
          id: 'cdk-validator-cfnguard::lambda_function_public_access_prohibited_check',
          reason: publicReason,
        });
      }
    }
  }
}

/** The groups the routers in use need, each with its Roles' rules and the namespaces of the services using them. */
function kubernetesGroups(settings: CanarySection): CanaryKubernetesGroup[] {
  const namespacesOf = (router: RbacRouter) =>
    [
      ...new Set(
        settings.services
          .filter((service) => service.router.type === router)
          .map((service) => `${service.cluster}/${service.namespace}`),
      ),
    ].sort();
  return (['traffic', 'observe'] as const).flatMap((step) => {
    const grants = (['alb', 'gateway-api'] as const).flatMap((router) => {
      const rules = CANARY_ROUTER_RULES[router][step];
      const namespaces = namespacesOf(router);
      return rules && namespaces.length > 0 ? [{ namespaces, rules }] : [];
    });
    return grants.length > 0 ? [{ group: STEP_GROUPS[step], step, grants }] : [];
  });
}

/** The clusters the services are in, each with only the namespaces they use. */
function workloadClusters(
  workloads: readonly { cluster: string; namespace: string }[],
  clusters: readonly EksCluster[],
): EksClusterAccess[] {
  const namespaces = new Map<string, string[]>();
  for (const { cluster, namespace } of workloads) {
    const granted = clusters.find((entry) => entry.name === cluster);
    if (!granted?.namespaces.includes(namespace)) {
      throw new Error(
        `canary: ${cluster}/${namespace} is not granted in eksClusters, so no access entry may reach it`,
      );
    }
    namespaces.set(cluster, [...(namespaces.get(cluster) ?? []), namespace]);
  }
  return [...namespaces].map(([name, list]) => ({ name, namespaces: list }));
}
