import { fileURLToPath } from 'node:url';
import { ArnFormat, Duration, Stack, TimeZone, Validations } from 'aws-cdk-lib';
import { type Policy, PolicyStatement, type Role } from 'aws-cdk-lib/aws-iam';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { rightsizingFunctions } from '../lambdas/rightsizing/functions';
import { REPORTS_PREFIX, RUNS_PREFIX } from '../lambdas/rightsizing/parts';
import { type RightsizingSection, rightsizingRuntime } from './config/rightsizing';
import type { EksCluster } from './config/shared';
import type { EksRunbookAccess } from './eks-runbook-access';
import { acknowledgeResource, stepPolicy, stepRole } from './runbook-step-roles';
import { RunbookFunction } from './runbook-function';
import type { RunbookReportsBucket } from './runbook-reports-bucket';
import type { RunbookSharedResources } from './runbook-shared-resources';
import { RunbookStateMachine } from './runbook-state-machine';

export interface RightsizingReportRunbookProps {
  /** The shared resources: reports bucket, Kubernetes access factory, lifecycle bus, on-call topic, notifier. */
  readonly shared: RunbookSharedResources;
  /** The `rightsizing` section: schedule, lookback, strategy, which clusters, EC2 and RDS, retention. */
  readonly settings: RightsizingSection;
  /** The clusters and their granted namespaces (`eksClusters`); `settings.clusters` picks among them. */
  readonly clusters: EksCluster[];
  /**
   * The ASL definition (JSONPath), absolute path.
   * @default - `state-machines/rightsizing-report.asl.json` in the repository
   */
  readonly definitionPath?: string;
}

/** The Compute Optimizer calls of the compute step, by what it sizes. */
const COMPUTE_OPTIMIZER = {
  enrollment: 'compute-optimizer:GetEnrollmentStatus',
  ec2: [
    'compute-optimizer:GetEC2InstanceRecommendations',
    'compute-optimizer:GetAutoScalingGroupRecommendations',
  ],
  rds: ['compute-optimizer:GetRDSDatabaseRecommendations'],
} as const;

/**
 * What each Compute Optimizer call needs besides itself, and what our own CloudWatch method reads: the
 * Compute Optimizer user guide ("Controlling access with AWS Identity and Access Management") requires
 * ec2:DescribeInstances for EC2 instance recommendations, autoscaling:DescribeAutoScalingGroups and
 * autoscaling:DescribeAutoScalingInstances for Auto Scaling group recommendations, and rds:DescribeDBInstances
 * and rds:DescribeDBClusters for RDS recommendations (the same set as the ComputeOptimizerReadOnlyAccess
 * managed policy).
 */
const EC2_READS = [
  'ec2:DescribeInstances',
  'autoscaling:DescribeAutoScalingGroups',
  'autoscaling:DescribeAutoScalingInstances',
] as const;

/**
 * "What could each workload, node and database be sized to, and what would it save": a weekly schedule
 * starts the workflow, which reads every sized cluster's workloads and their Container Insights usage
 * (a Map, four clusters at once) beside the EC2 instances, Auto Scaling groups and RDS instances (Compute
 * Optimizer where the account opted in, else CloudWatch), then prices every line and writes the report
 * (CSV, Markdown, HTML) to the reports bucket with a presigned link in the Slack summary.
 *
 * Each step runs as its own role with only what it uses (Service Authorization Reference):
 * - the workloads collector has a `view` access entry in each sized cluster, scoped to its namespaces,
 *   `cloudwatch:GetMetricData` (no resource types), and writes only `rightsizing/runs/`;
 * - the compute collector reads Compute Optimizer, EC2, Auto Scaling and RDS descriptions and metrics, each
 *   only when its `ec2` / `rds` setting is on, and writes only `rightsizing/runs/`;
 * - the report reads `rightsizing/runs/`, writes `rightsizing/reports/`, reads `rightsizing/reports/` (and
 *   decrypts with the bucket key) so the link it presigns works, and calls `pricing:GetProducts`.
 * No alarm of its own: a report that does not arrive is a failed, timed-out or undelivered run, which the
 * kit's alarms page (the workflow pages itself when the report step fails).
 */
export class RightsizingReportRunbook extends Construct {
  public readonly collectWorkloadsFunction: RunbookFunction;
  public readonly collectComputeFunction: RunbookFunction;
  public readonly reportFunction: RunbookFunction;
  /** The workloads collector's role, with a `view` access entry per sized cluster. */
  public readonly workloadsAccess: EksRunbookAccess;
  /** The compute collector's role: Compute Optimizer, EC2, Auto Scaling and RDS, read-only. */
  public readonly collectComputeRole: Role;
  /** The report step's role: the runs and reports prefixes, the Price List API. */
  public readonly reportRole: Role;
  /** The clusters whose workloads are sized (`settings.clusters` of `eksClusters`, with their namespaces). */
  public readonly clusters: readonly EksCluster[];
  public readonly reports: RunbookReportsBucket;
  public readonly workflow: RunbookStateMachine;

  constructor(scope: Construct, id: string, props: RightsizingReportRunbookProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { shared, settings } = props;
    const { environment } = shared;
    const runtime = rightsizingRuntime({ settings, clusters: props.clusters });
    this.clusters = runtime.clusters;

    this.reports = shared.reportsBucket();
    this.reports.addRetention({ prefix: RUNS_PREFIX, expireAfter: Duration.days(7) });
    this.reports.addRetention({
      prefix: REPORTS_PREFIX,
      expireAfter: Duration.days(settings.reportRetentionDays),
      archiveAfter: Duration.days(90),
    });
    const stepEnvironment = {
      REPORT_BUCKET: this.reports.bucket.bucketName,
      ENVIRONMENT_NAME: environment,
    };
    const lambdaRole = (roleId: string, description: string): Role =>
      stepRole(this, roleId, description, environment);
    const policy = (policyId: string, role: Role, statements: PolicyStatement[]): Policy =>
      stepPolicy(this, policyId, role, statements);
    const acknowledge = acknowledgeResource;
    const acknowledgePrefix = (policyOrRole: Construct, prefix: string): void =>
      acknowledge(
        policyOrRole,
        this.reports.objectsArn(prefix),
        `Objects under ${prefix} of the reports bucket only: their keys are made per run (execution name, cluster, date).`,
      );

    // Workloads collector: Kubernetes (view), Container Insights, the runs prefix. ----------------------------
    this.workloadsAccess = shared.kubernetesAccess(this, 'WorkloadsAccess', {
      accessLevel: 'view',
      description: `Right-sizing report (${environment}): reads workloads, their requests and HPAs`,
      // Only the sized clusters; the view policy covers Deployments, StatefulSets, DaemonSets and HPAs.
      clusterNames: runtime.clusters.map((cluster) => cluster.name),
    });
    const collectWorkloadsPolicy = policy('CollectWorkloadsPolicy', this.workloadsAccess.role, [
      new PolicyStatement({
        sid: 'ReadContainerInsights',
        actions: ['cloudwatch:GetMetricData'],
        resources: ['*'],
      }),
    ]);
    Validations.of(collectWorkloadsPolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'cloudwatch:GetMetricData (read-only, the Container Insights usage series) defines no resource types in the Service Authorization Reference, so it cannot be scoped.',
    });
    this.reports.grantWrite(this.workloadsAccess.role, RUNS_PREFIX);
    acknowledgePrefix(this.workloadsAccess.role, RUNS_PREFIX);
    this.collectWorkloadsFunction = new RunbookFunction(this, 'CollectWorkloadsFunction', {
      definition: rightsizingFunctions.collectWorkloads,
      platform: shared,
      role: this.workloadsAccess.role,
      environment: stepEnvironment,
    });
    this.collectWorkloadsFunction.node.defaultChild?.node.addDependency(collectWorkloadsPolicy);
    this.workloadsAccess.createEntriesAfter(this.collectWorkloadsFunction);

    // Compute collector: Compute Optimizer, else CloudWatch; EC2 and Auto Scaling, RDS. --------------------
    this.collectComputeRole = lambdaRole(
      'CollectComputeRole',
      'Right-sizing report: reads EC2, Auto Scaling and RDS sizes and recommendations',
    );
    const unscoped: string[] = [];
    if (settings.ec2 || settings.rds) {
      unscoped.push(COMPUTE_OPTIMIZER.enrollment, 'cloudwatch:GetMetricData');
    }
    if (settings.ec2) unscoped.push(...COMPUTE_OPTIMIZER.ec2, ...EC2_READS);
    if (settings.rds) unscoped.push(...COMPUTE_OPTIMIZER.rds);
    const computeStatements: PolicyStatement[] = [];
    if (unscoped.length > 0) {
      computeStatements.push(
        new PolicyStatement({ sid: 'ReadRecommendationsAndUsage', actions: unscoped, resources: ['*'] }),
      );
    }
    const rds = (resource: string): string =>
      stack.formatArn({
        service: 'rds',
        resource,
        resourceName: '*',
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    const rdsInstances = rds('db');
    const rdsClusters = rds('cluster');
    if (settings.rds) {
      computeStatements.push(
        new PolicyStatement({
          sid: 'DescribeDatabases',
          // Listing (no identifier) is authorized on db:* and cluster:* of this account and region.
          // DescribeDBClusters: Compute Optimizer's RDS recommendations cover Aurora and require it.
          actions: ['rds:DescribeDBInstances', 'rds:DescribeDBClusters'],
          resources: [rdsInstances, rdsClusters],
        }),
      );
    }
    const collectComputePolicy =
      computeStatements.length > 0
        ? policy('CollectComputePolicy', this.collectComputeRole, computeStatements)
        : undefined;
    if (collectComputePolicy && unscoped.length > 0) {
      Validations.of(collectComputePolicy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: `Read-only calls that define no resource types in the Service Authorization Reference, so they cannot be scoped: ${unscoped.join(', ')}.`,
      });
    }
    if (collectComputePolicy && settings.rds) {
      for (const resource of [rdsInstances, rdsClusters]) {
        acknowledge(
          collectComputePolicy,
          resource,
          'rds:DescribeDBInstances and rds:DescribeDBClusters without an identifier (every instance and cluster is sized) are authorized on db:* and cluster:* of this account and region; read-only.',
        );
      }
    }
    this.reports.grantWrite(this.collectComputeRole, RUNS_PREFIX);
    acknowledgePrefix(this.collectComputeRole, RUNS_PREFIX);
    this.collectComputeFunction = new RunbookFunction(this, 'CollectComputeFunction', {
      definition: rightsizingFunctions.collectCompute,
      platform: shared,
      role: this.collectComputeRole,
      environment: stepEnvironment,
    });
    if (collectComputePolicy) {
      this.collectComputeFunction.node.defaultChild?.node.addDependency(collectComputePolicy);
    }

    // Report: the parts, the prices, the report and its presigned link. ------------------------------------
    this.reportRole = lambdaRole(
      'ReportRole',
      'Right-sizing report: prices the lines, writes the report and its link',
    );
    this.reports.grantRead(this.reportRole, RUNS_PREFIX);
    this.reports.grantWrite(this.reportRole, REPORTS_PREFIX);
    const reportsObjects = this.reports.objectsArn(REPORTS_PREFIX);
    const reportPolicy = policy('ReportPolicy', this.reportRole, [
      new PolicyStatement({
        sid: 'OpenPresignedReportLinks',
        // A presigned URL acts with its signer's permissions: the link in Slack reads the report (and
        // decrypts it with the bucket key) as this role. No s3:ListBucket on reports/: only the one key.
        actions: ['s3:GetObject'],
        resources: [reportsObjects],
      }),
      new PolicyStatement({
        sid: 'DecryptPresignedReports',
        actions: ['kms:Decrypt'],
        resources: [this.reports.key.keyArn],
      }),
      new PolicyStatement({
        sid: 'ReadPrices',
        actions: ['pricing:GetProducts'],
        resources: ['*'],
      }),
    ]);
    Validations.of(reportPolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'pricing:GetProducts (the public Price List API, read-only) defines no resource types in the Service Authorization Reference, so it cannot be scoped.',
    });
    acknowledgePrefix(reportPolicy, REPORTS_PREFIX);
    acknowledgePrefix(this.reportRole, RUNS_PREFIX);
    acknowledgePrefix(this.reportRole, REPORTS_PREFIX);
    this.reportFunction = new RunbookFunction(this, 'ReportFunction', {
      definition: rightsizingFunctions.report,
      platform: shared,
      role: this.reportRole,
      environment: stepEnvironment,
    });
    this.reportFunction.node.defaultChild?.node.addDependency(reportPolicy);

    // Workflow -------------------------------------------------------------------------------------------
    this.workflow = new RunbookStateMachine(this, 'Workflow', {
      runbook: 'rightsizing',
      shared,
      definitionPath:
        props.definitionPath ??
        fileURLToPath(new URL('../state-machines/rightsizing-report.asl.json', import.meta.url)),
      functions: [this.collectWorkloadsFunction, this.collectComputeFunction, this.reportFunction],
      // RightsizingSettings and RightsizingClusters: JSON documents in ASL strings, parsed by the Describe state.
      substitutions: runtime.substitutions,
      // Clusters four at once (15 minutes each at most) beside the compute step, then the report (10).
      timeout: Duration.minutes(60),
      trigger: {
        kind: 'schedule',
        description: `Weekly cost right-sizing report (${environment})`,
        schedule: ScheduleExpression.expression(settings.schedule, TimeZone.of(settings.timeZone)),
        input: {},
      },
    });
  }
}
