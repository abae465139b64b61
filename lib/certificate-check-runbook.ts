import { fileURLToPath } from 'node:url';
import { Duration, Stack, TimeZone, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Policy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { certificateFunctions } from '../lambdas/certificates/functions';
import {
  CERTIFICATE_METRICS_NAMESPACE,
  CertificateDimension,
  CertificateMetric,
} from '../lambdas/certificates/metric-names';
import { REPORTS_PREFIX, RUNS_PREFIX } from '../lambdas/certificates/parts';
import { ACM_EVENT_TYPES } from '../lambdas/certificates/trigger';
import { certificateCheckRuntime, endpointId, type CertificatesSection } from './config/certificates';
import type { EksCluster } from './config/shared';
import type { EksRunbookAccess } from './eks-runbook-access';
import { nagResource } from './nag-resource';
import { XRAY_REASON } from './runbook-step-roles';
import { RunbookFunction } from './runbook-function';
import type { RunbookReportsBucket } from './runbook-reports-bucket';
import type { RunbookSharedResources } from './runbook-shared-resources';
import { type RunbookTrigger, RunbookStateMachine } from './runbook-state-machine';

export interface CertificateCheckRunbookProps {
  /** The shared resources: reports bucket, Kubernetes access factory, lifecycle bus, on-call topic, notifier. */
  readonly shared: RunbookSharedResources;
  /** The `certificates` section: schedule, regions, thresholds, endpoints, trusted CAs. */
  readonly settings: CertificatesSection;
  /** The clusters and their granted namespaces (`eksClusters`): cert-manager is read there. */
  readonly clusters: EksCluster[];
  /**
   * The ASL definition (JSONPath), absolute path.
   * @default - `state-machines/certificate-check.asl.json` in the repository
   */
  readonly definitionPath?: string;
}

/** The Kubernetes group the cert-manager collector's access entry puts its role in. */
export const CERTIFICATE_READERS_GROUP = 'platform-runbooks:certificate-readers';

/**
 * "Check every certificate before it expires": a daily schedule (and, with `acmEvents`, ACM's expiry and
 * renewal events for one certificate) starts the workflow, which reads the trigger, collects ACM/IAM/listener
 * certificates, cert-manager Certificates and live TLS endpoints in parallel, and writes one report (S3), one
 * set of `DaysToExpiry` metrics and one Slack summary. Each step runs as its own role with only what it
 * uses: the AWS collector reads certificates, the cert-manager collector has a view access entry, the prober
 * no AWS permission but the bucket, and every step writes or reads only its prefix of the bucket.
 * Alarms (missing data breaching, so a check that stops running also pages): the earliest expiry of all
 * below `criticalDays`, each endpoint with `alarm: true`, and sources the check could not read.
 */
export class CertificateCheckRunbook extends Construct {
  public readonly readTriggerFunction: RunbookFunction;
  public readonly collectAwsFunction: RunbookFunction;
  public readonly collectCertManagerFunction: RunbookFunction;
  public readonly probeEndpointsFunction: RunbookFunction;
  public readonly reportFunction: RunbookFunction;
  /** The AWS collector's role: ACM, IAM server certificates and load balancer listeners, read-only. */
  public readonly collectAwsRole: Role;
  /** The cert-manager collector's role, with a `view` access entry per cluster it reads. */
  public readonly certManagerAccess: EksRunbookAccess;
  public readonly reports: RunbookReportsBucket;
  public readonly workflow: RunbookStateMachine;
  /** The earliest `DaysToExpiry` of the run below `criticalDays`, or no run for a day. */
  public readonly earliestExpiryAlarm: Alarm;
  /** A source (region, cluster, step) the check could not read. */
  public readonly sourceFailuresAlarm: Alarm;
  /** One per endpoint configured with `alarm: true`, by endpoint id. */
  public readonly endpointAlarms: ReadonlyMap<string, Alarm>;

  constructor(scope: Construct, id: string, props: CertificateCheckRunbookProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { shared, settings } = props;
    const { environment } = shared;
    const runtime = certificateCheckRuntime({ environment, settings, clusters: props.clusters });
    this.reports = shared.reportsBucket();
    this.reports.addRetention({ prefix: RUNS_PREFIX, expireAfter: Duration.days(7) });
    this.reports.addRetention({
      prefix: REPORTS_PREFIX,
      expireAfter: Duration.days(settings.reportRetentionDays),
      archiveAfter: Duration.days(90),
    });
    const bucketEnvironment = { REPORT_BUCKET: this.reports.bucket.bucketName };
    const lambdaRole = (roleId: string, description: string): Role =>
      new Role(this, roleId, {
        assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
        description: `${description} (${environment})`,
      });

    // Read trigger: parses the input, calls nothing.
    const readTriggerRole = lambdaRole('ReadTriggerRole', 'Certificate check: reads the trigger');
    Validations.of(readTriggerRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: XRAY_REASON,
    });
    this.readTriggerFunction = new RunbookFunction(this, 'ReadTriggerFunction', {
      definition: certificateFunctions.readTrigger,
      platform: shared,
      role: readTriggerRole,
      // An ACM event of another account is refused (resolved at deploy).
      environment: { ...runtime.readTriggerEnvironment, ACCOUNT_ID: stack.account },
    });

    // AWS collector --------------------------------------------------------------------------------------
    this.collectAwsRole = lambdaRole(
      'CollectAwsRole',
      'Certificate check: reads ACM, IAM and listener certificates',
    );
    const acmCertificates = stack.formatArn({
      service: 'acm',
      region: '*',
      resource: 'certificate',
      resourceName: '*',
    });
    const collectAwsPolicy = new Policy(this, 'CollectAwsPolicy', {
      statements: [
        new PolicyStatement({
          sid: 'DescribeAcmCertificates',
          actions: ['acm:DescribeCertificate'],
          resources: [acmCertificates],
        }),
        new PolicyStatement({
          sid: 'ListCertificates',
          actions: [
            'acm:ListCertificates',
            'iam:ListServerCertificates',
            'elasticloadbalancing:DescribeLoadBalancers',
            'elasticloadbalancing:DescribeListeners',
            'elasticloadbalancing:DescribeListenerCertificates',
          ],
          resources: ['*'],
        }),
      ],
    });
    collectAwsPolicy.attachToRole(this.collectAwsRole);
    Validations.of(collectAwsPolicy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResource(collectAwsPolicy, acmCertificates)}]`,
      reason:
        "acm:DescribeCertificate (read-only) on the certificates of this account in any region: the check reads every configured region and us-east-1, and certificate ids are ACM's own.",
    });
    Validations.of(collectAwsPolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Read-only list calls that define no resource types in the Service Authorization Reference: acm:ListCertificates, iam:ListServerCertificates and elasticloadbalancing:DescribeLoadBalancers/DescribeListeners/DescribeListenerCertificates.',
    });
    this.reports.grantWrite(this.collectAwsRole, RUNS_PREFIX);
    this.collectAwsFunction = new RunbookFunction(this, 'CollectAwsFunction', {
      definition: certificateFunctions.collectAws,
      platform: shared,
      role: this.collectAwsRole,
      environment: { ...runtime.collectAwsEnvironment, ...bucketEnvironment },
    });
    this.collectAwsFunction.node.defaultChild?.node.addDependency(collectAwsPolicy);

    // cert-manager collector -----------------------------------------------------------------------------
    this.certManagerAccess = shared.kubernetesAccess(this, 'CertManagerAccess', {
      accessLevel: 'view',
      description: `Certificate check (${environment}): reads cert-manager Certificates`,
      clusterNames: runtime.certManagerClusters.map((cluster) => cluster.name),
      // Bound to the `view` ClusterRole in each granted namespace (docs/runbooks/certificate-check.md): the
      // view access policy covers no custom resource.
      kubernetesGroups: [CERTIFICATE_READERS_GROUP],
    });
    this.reports.grantWrite(this.certManagerAccess.role, RUNS_PREFIX);
    this.collectCertManagerFunction = new RunbookFunction(this, 'CollectCertManagerFunction', {
      definition: certificateFunctions.collectCertManager,
      platform: shared,
      role: this.certManagerAccess.role,
      environment: { ...runtime.collectCertManagerEnvironment, ...bucketEnvironment },
    });
    this.certManagerAccess.createEntriesAfter(this.collectCertManagerFunction);

    // Prober and report ----------------------------------------------------------------------------------
    const probeRole = lambdaRole('ProbeEndpointsRole', 'Certificate check: probes TLS endpoints');
    this.reports.grantWrite(probeRole, RUNS_PREFIX);
    this.probeEndpointsFunction = new RunbookFunction(this, 'ProbeEndpointsFunction', {
      definition: certificateFunctions.probeEndpoints,
      platform: shared,
      role: probeRole,
      environment: bucketEnvironment,
    });
    const reportRole = lambdaRole('ReportRole', 'Certificate check: writes the report and its metrics');
    this.reports.grantRead(reportRole, RUNS_PREFIX);
    this.reports.grantWrite(reportRole, REPORTS_PREFIX);
    this.reportFunction = new RunbookFunction(this, 'ReportFunction', {
      definition: certificateFunctions.report,
      platform: shared,
      role: reportRole,
      environment: { ...runtime.reportEnvironment, ...bucketEnvironment },
    });
    for (const role of [this.collectAwsRole, this.certManagerAccess.role, probeRole, reportRole]) {
      this.acknowledgeBucketGrants(role);
    }

    // Workflow -------------------------------------------------------------------------------------------
    const triggers: RunbookTrigger[] = [
      {
        kind: 'schedule',
        description: `Daily certificate expiry check (${environment})`,
        schedule: ScheduleExpression.expression(settings.schedule, TimeZone.of(settings.timeZone)),
        input: { trigger: 'schedule' },
      },
    ];
    if (settings.acmEvents) {
      triggers.push({
        kind: 'event',
        description: `Checks an ACM certificate when ACM reports its expiry or a renewal problem (${environment})`,
        eventPattern: { source: ['aws.acm'], detailType: [...ACM_EVENT_TYPES] },
      });
    }
    this.workflow = new RunbookStateMachine(this, 'Workflow', {
      runbook: 'certificates',
      shared,
      definitionPath:
        props.definitionPath ??
        fileURLToPath(new URL('../state-machines/certificate-check.asl.json', import.meta.url)),
      functions: [
        this.readTriggerFunction,
        this.collectAwsFunction,
        this.collectCertManagerFunction,
        this.probeEndpointsFunction,
        this.reportFunction,
      ],
      // ProbeSettings: the endpoints and trusted CAs, a JSON document in an ASL string.
      substitutions: runtime.substitutions,
      // Three collectors at once, then the report: the longest step (probes) bounds it.
      timeout: Duration.minutes(30),
      trigger: triggers,
    });

    // Alarms ---------------------------------------------------------------------------------------------
    const metric = (metricName: string, dimensionsMap: Record<string, string>, statistic: string) =>
      new Metric({
        namespace: CERTIFICATE_METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { [CertificateDimension.environment]: environment, ...dimensionsMap },
        statistic,
        period: Duration.days(1),
      });
    const alarmPrefix = `platform-runbooks-${environment}-certificates`;
    const page = new SnsAction(shared.onCallTopic);
    this.earliestExpiryAlarm = new Alarm(this, 'EarliestExpiryAlarm', {
      alarmName: `${alarmPrefix}-earliest-expiry`,
      alarmDescription: `A certificate expires in fewer than ${settings.criticalDays} days, or the certificate check has not reported for a day. Read the latest report (certificate-check/reports/ in the reports bucket) or the check's executions.`,
      metric: metric(CertificateMetric.earliestDaysToExpiry, {}, 'Minimum'),
      threshold: settings.criticalDays,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // ACM's own DaysToExpiry stops once a certificate has expired (reference.md): no data is the worst case.
      treatMissingData: TreatMissingData.BREACHING,
    });
    this.sourceFailuresAlarm = new Alarm(this, 'SourceFailuresAlarm', {
      alarmName: `${alarmPrefix}-sources-unread`,
      alarmDescription:
        'The certificate check could not read a source (a region, IAM, a cluster or the probes): its certificates are missing from the report. The report names the source and the error.',
      metric: metric(CertificateMetric.sourceFailures, {}, 'Maximum'),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      // A day without data is the earliest-expiry alarm's to report.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    const endpointAlarms = new Map<string, Alarm>();
    settings.endpoints
      .filter((endpoint) => endpoint.alarm)
      .forEach((endpoint, index) => {
        const endpointKey = endpointId(endpoint);
        endpointAlarms.set(
          endpointKey,
          new Alarm(this, `EndpointAlarm${index}`, {
            alarmName: `${alarmPrefix}-endpoint-${endpoint.host}-${endpoint.port}`.slice(0, 255),
            alarmDescription: `The certificate served by ${endpointKey} expires in fewer than ${settings.criticalDays} days, or the endpoint could not be probed (no data).`,
            metric: metric(
              CertificateMetric.daysToExpiry,
              {
                [CertificateDimension.source]: 'endpoint',
                [CertificateDimension.certificate]: endpointKey,
              },
              'Minimum',
            ),
            threshold: settings.criticalDays,
            comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluationPeriods: 1,
            treatMissingData: TreatMissingData.BREACHING,
          }),
        );
      });
    this.endpointAlarms = endpointAlarms;
    for (const alarm of [this.earliestExpiryAlarm, this.sourceFailuresAlarm, ...endpointAlarms.values()]) {
      alarm.addAlarmAction(page);
    }
  }

  /** The grants on the bucket name object prefixes and the bucket's key: acknowledge each, with why. */
  private acknowledgeBucketGrants(role: Role): void {
    for (const prefix of [RUNS_PREFIX, REPORTS_PREFIX]) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagResource(role, this.reports.objectsArn(prefix))}]`,
        reason: `Objects under ${prefix} of the reports bucket only: their keys are made per run (execution name, date).`,
      });
    }
    Validations.of(role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: XRAY_REASON });
  }
}
