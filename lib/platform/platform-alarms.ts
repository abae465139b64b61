import { ArnFormat, Duration, Stack, Tags } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { DatabaseInstance } from 'aws-cdk-lib/aws-rds';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import {
  type PlatformSection,
  type PlatformWorkload,
  ROLLBACK_TARGET_TAG,
  rollbackTargetTagValue,
} from '../config/platform';

export interface PlatformAlarmsProps {
  readonly environment: string;
  readonly clusterName: string;
  readonly settings: PlatformSection['alarms'];
  readonly workloads: readonly PlatformWorkload[];
  readonly database: DatabaseInstance;
  readonly allocatedStorageGiB: number;
  /** Encrypts the alarm topic; its policy must let CloudWatch use it (the stack adds that statement). */
  readonly topicKey: IKey;
}

/** The alarms of one workload, as created (the ALB ones only with `loadBalancer`). */
export interface WorkloadAlarms {
  readonly workload: PlatformWorkload;
  readonly errorRate?: Alarm;
  readonly latencyP99?: Alarm;
  readonly podRestarts: Alarm;
}

/** The seeds' thresholds (shared/seeds: Prometheus rules HighErrorRate, HighLatency, PodRestarting). */
export const SEED_THRESHOLDS = {
  /** 5xx responses above 1 % of requests… */
  errorRatePercent: 1,
  /** …for 5 minutes (five one-minute periods in a row). */
  errorRateMinutes: 5,
  /** p99 target response time above 1 s for 5 minutes. */
  latencyP99Seconds: 1,
  latencyMinutes: 5,
} as const;

/**
 * The alarms of the seeds, paging through the platform's alarm topic:
 * - per workload: ALB 5xx rate > 1 % for 5 minutes and p99 latency > 1 s for 5 minutes (with the workload's
 *   `loadBalancer`), and container restarts within an hour (Container Insights). Each is named with
 *   `workloadAlarmPrefix` and tagged `runbooks:rollback-target` = `cluster/namespace/deployment`: the rollback
 *   runbook's rule matches the prefix, and its prepare step reads the tag to find the Deployment;
 * - for the database: CPU above `databaseCpuPercent` for 15 minutes, free storage below
 *   `databaseFreeStoragePercent` of the allocation, connections above `databaseConnections` for 5 minutes.
 */
export class PlatformAlarms extends Construct {
  public readonly topic: Topic;
  public readonly workloadAlarms: WorkloadAlarms[];
  public readonly databaseCpu: Alarm;
  public readonly databaseFreeStorage: Alarm;
  public readonly databaseConnections: Alarm;

  constructor(scope: Construct, id: string, props: PlatformAlarmsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { settings, environment } = props;
    this.topic = new Topic(this, 'Topic', {
      topicName: `platform-${environment}-alarms`,
      displayName: `Platform alarms (${environment})`,
      masterKey: props.topicKey,
      enforceSSL: true,
    });
    // A topic policy replaces SNS's default one: only this account's alarms may publish (confused deputy).
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsOfThisAccountToPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    for (const email of settings.emails) this.topic.addSubscription(new EmailSubscription(email));
    const action = new SnsAction(this.topic);

    const alarm = (
      alarmId: string,
      options: {
        name: string;
        description: string;
        metric: IMetric;
        threshold: number;
        periods: number;
        comparison: ComparisonOperator;
        missing?: TreatMissingData;
      },
    ): Alarm => {
      const created = new Alarm(this, alarmId, {
        alarmName: options.name,
        alarmDescription: options.description,
        metric: options.metric,
        threshold: options.threshold,
        evaluationPeriods: options.periods,
        datapointsToAlarm: options.periods,
        comparisonOperator: options.comparison,
        treatMissingData: options.missing ?? TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      return created;
    };

    const minute = Duration.minutes(1);
    this.workloadAlarms = props.workloads.map((workload) => {
      const key = `${workload.namespace}-${workload.deployment}`;
      const name = (suffix: string) => `${settings.workloadAlarmPrefix}${props.clusterName}-${key}-${suffix}`;
      const where = `${workload.deployment} (${props.clusterName}/${workload.namespace})`;
      let errorRate: Alarm | undefined;
      let latencyP99: Alarm | undefined;
      if (workload.loadBalancer !== undefined) {
        const dimensionsMap: Record<string, string> = { LoadBalancer: workload.loadBalancer };
        if (workload.targetGroup !== undefined) dimensionsMap.TargetGroup = workload.targetGroup;
        const alb = (metricName: string, statistic: string) =>
          new Metric({
            namespace: 'AWS/ApplicationELB',
            metricName,
            dimensionsMap,
            statistic,
            period: minute,
          });
        // The load balancer's own 5xx (502/503/504 from crashing targets) exist per load balancer only.
        const usingMetrics: Record<string, IMetric> = {
          targetErrors: alb('HTTPCode_Target_5XX_Count', 'Sum'),
          requests: alb('RequestCount', 'Sum'),
          ...(workload.targetGroup === undefined && {
            elbErrors: new Metric({
              namespace: 'AWS/ApplicationELB',
              metricName: 'HTTPCode_ELB_5XX_Count',
              dimensionsMap: { LoadBalancer: workload.loadBalancer },
              statistic: 'Sum',
              period: minute,
            }),
          }),
        };
        const errors =
          workload.targetGroup === undefined
            ? 'FILL(targetErrors, 0) + FILL(elbErrors, 0)'
            : 'FILL(targetErrors, 0)';
        errorRate = alarm(`${key}-ErrorRate`, {
          name: name('5xx-rate'),
          description: `5xx responses of ${where} above ${SEED_THRESHOLDS.errorRatePercent} % of requests for ${SEED_THRESHOLDS.errorRateMinutes} minutes. Starts the rollback runbook (tag ${ROLLBACK_TARGET_TAG}).`,
          metric: new MathExpression({
            expression: `100 * (${errors}) / requests`,
            usingMetrics,
            label: '5xx rate (%)',
            period: minute,
          }),
          threshold: SEED_THRESHOLDS.errorRatePercent,
          periods: SEED_THRESHOLDS.errorRateMinutes,
          comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
        });
        latencyP99 = alarm(`${key}-LatencyP99`, {
          name: name('p99-latency'),
          description: `p99 response time of ${where} above ${SEED_THRESHOLDS.latencyP99Seconds} s for ${SEED_THRESHOLDS.latencyMinutes} minutes. Starts the rollback runbook (tag ${ROLLBACK_TARGET_TAG}).`,
          metric: alb('TargetResponseTime', 'p99'),
          threshold: SEED_THRESHOLDS.latencyP99Seconds,
          periods: SEED_THRESHOLDS.latencyMinutes,
          comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
        });
      }
      // Container Insights reports the pods' restart count (PodName is the workload's name); its increase
      // over the previous hour is the seed's increase(kube_pod_container_status_restarts_total[1h]).
      const podRestarts = alarm(`${key}-PodRestarts`, {
        name: name('pod-restarts'),
        description: `Containers of ${where} restarted more than ${settings.podRestartsPerHour} times within an hour. Starts the rollback runbook (tag ${ROLLBACK_TARGET_TAG}).`,
        metric: new MathExpression({
          expression: 'DIFF(restarts)',
          usingMetrics: {
            restarts: new Metric({
              namespace: 'ContainerInsights',
              metricName: 'pod_number_of_container_restarts',
              dimensionsMap: {
                ClusterName: props.clusterName,
                Namespace: workload.namespace,
                PodName: workload.deployment,
              },
              statistic: 'Maximum',
              period: Duration.hours(1),
            }),
          },
          label: 'container restarts in the hour',
          period: Duration.hours(1),
        }),
        threshold: settings.podRestartsPerHour,
        periods: 1,
        comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
      const created = { workload, errorRate, latencyP99, podRestarts };
      for (const target of [errorRate, latencyP99, podRestarts]) {
        if (target)
          Tags.of(target).add(ROLLBACK_TARGET_TAG, rollbackTargetTagValue(props.clusterName, workload));
      }
      return created;
    });

    const db = props.database;
    const fiveMinutes = Duration.minutes(5);
    this.databaseCpu = alarm('DatabaseCpu', {
      name: `platform-${environment}-database-cpu`,
      description: `CPU of ${db.instanceIdentifier} above ${settings.databaseCpuPercent} % for 15 minutes.`,
      metric: db.metricCPUUtilization({ period: fiveMinutes, statistic: 'Average' }),
      threshold: settings.databaseCpuPercent,
      periods: 3,
      comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    const freeBytes = Math.round(
      (props.allocatedStorageGiB * 1024 ** 3 * settings.databaseFreeStoragePercent) / 100,
    );
    this.databaseFreeStorage = alarm('DatabaseFreeStorage', {
      name: `platform-${environment}-database-free-storage`,
      description: `Free storage of ${db.instanceIdentifier} below ${settings.databaseFreeStoragePercent} % of the ${props.allocatedStorageGiB} GiB allocated.`,
      metric: db.metricFreeStorageSpace({ period: fiveMinutes, statistic: 'Minimum' }),
      threshold: freeBytes,
      periods: 1,
      comparison: ComparisonOperator.LESS_THAN_THRESHOLD,
      // No data from a running instance means something is wrong with it.
      missing: TreatMissingData.BREACHING,
    });
    this.databaseConnections = alarm('DatabaseConnections', {
      name: `platform-${environment}-database-connections`,
      description: `Connections to ${db.instanceIdentifier} above ${settings.databaseConnections} for 5 minutes.`,
      metric: db.metricDatabaseConnections({ period: minute, statistic: 'Maximum' }),
      threshold: settings.databaseConnections,
      periods: 5,
      comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
  }
}
