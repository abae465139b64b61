import { ArnFormat, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type { PlatformSection } from './config/platform';
import { PlatformAlarms } from './platform/platform-alarms';
import { PlatformBuckets } from './platform/platform-buckets';
import { PlatformCache } from './platform/platform-cache';
import { PlatformCluster } from './platform/platform-cluster';
import { PlatformDatabase } from './platform/platform-database';
import { PlatformKey } from './platform/platform-key';
import { PlatformNetwork } from './platform/platform-network';

export interface PlatformStackProps extends StackProps {
  /** Short environment name: in every resource name (`platform-<environment>-…`). */
  readonly environment: string;
  /** The validated `platform` section. */
  readonly settings: PlatformSection;
}

/**
 * The core platform of one environment (`Platform-<environment>`): VPC, EKS (Auto Mode), RDS PostgreSQL,
 * Redis, S3, KMS keys and the alarms the runbooks react to. It exports nothing and the runbooks stack imports
 * nothing from it: the runbooks find the cluster, database and alarms by the names the configuration gives
 * both, so a team with its own platform deploys the runbooks stack alone. Every difference between
 * environments is in `settings`.
 */
export class PlatformStack extends Stack {
  public readonly network: PlatformNetwork;
  public readonly cluster: PlatformCluster;
  public readonly database: PlatformDatabase;
  public readonly cache: PlatformCache;
  public readonly buckets: PlatformBuckets;
  public readonly alarms: PlatformAlarms;
  private readonly zones: string[];

  constructor(scope: Construct, id: string, props: PlatformStackProps) {
    const { environment, settings, ...stackProps } = props;
    super(scope, id, {
      description: `Core platform (${environment}): VPC, EKS Auto Mode, RDS PostgreSQL, Redis, S3 and alarms`,
      ...stackProps,
    });
    this.zones = [...settings.availabilityZones];
    const retain = settings.retainData;
    const key = (
      keyId: string,
      purpose: string,
      extra: Partial<ConstructorParameters<typeof PlatformKey>[2]> = {},
    ) => new PlatformKey(this, keyId, { environment, purpose, retain, ...extra }).key;

    const logKey = key('LogsKey', 'logs', {
      retain: false,
      servicePrincipal: {
        principal: new ServicePrincipal(`logs.${this.region}.amazonaws.com`),
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': this.formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      },
    });
    this.network = new PlatformNetwork(this, 'Network', {
      environment,
      availabilityZones: settings.availabilityZones,
      cidr: settings.vpc.cidr,
      natGateways: settings.vpc.natGateways,
      flowLogRetentionDays: settings.vpc.flowLogRetentionDays,
      interfaceEndpoints: settings.vpc.interfaceEndpoints,
      logKey,
    });
    const { vpc } = this.network;

    this.cluster = new PlatformCluster(this, 'Eks', {
      environment,
      ...settings.eks,
      vpc,
      subnets: this.network.applicationSubnets,
      secretsKey: key('ClusterKey', 'eks-secrets'),
      logKey,
    });
    const clusterSecurityGroupId = this.cluster.cluster.attrClusterSecurityGroupId;

    const databaseKey = key('DatabaseKey', 'database');
    this.database = new PlatformDatabase(this, 'Database', {
      environment,
      settings: settings.database,
      vpc,
      subnets: this.network.dataSubnets,
      clientSecurityGroupId: clusterSecurityGroupId,
      key: databaseKey,
      logKey,
      logRetentionDays: settings.eks.logRetentionDays,
    });
    this.cache = new PlatformCache(this, 'Cache', {
      environment,
      settings: settings.cache,
      vpc,
      subnets: this.network.dataSubnets,
      clientSecurityGroupId: clusterSecurityGroupId,
      key: key('CacheKey', 'cache'),
    });
    this.buckets = new PlatformBuckets(this, 'Buckets', {
      environment,
      settings: settings.buckets,
      key: key('BucketsKey', 'buckets'),
      retain,
    });
    this.alarms = new PlatformAlarms(this, 'Alarms', {
      environment,
      clusterName: settings.eks.clusterName,
      settings: settings.alarms,
      workloads: settings.workloads,
      database: this.database.instance,
      allocatedStorageGiB: settings.database.allocatedStorageGiB,
      // Alarm actions publish as the CloudWatch service, which must be able to use the topic's key.
      topicKey: key('AlarmsKey', 'alarms', {
        retain: false,
        servicePrincipal: {
          principal: new ServicePrincipal('cloudwatch.amazonaws.com'),
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
        },
      }),
    });

    // What the runbooks' configuration needs from this stack, by value: copy them into it (README, deploy order).
    const output = (outputId: string, description: string, value: string) =>
      new CfnOutput(this, outputId, { description, value });
    output('VpcId', 'network.vpcId of the runbooks configuration', vpc.vpcId);
    output(
      'ApplicationSubnets',
      'network.subnets of the runbooks configuration (id:zone:route table)',
      vpc
        .selectSubnets(this.network.applicationSubnets)
        .subnets.map(
          (subnet) => `${subnet.subnetId}:${subnet.availabilityZone}:${subnet.routeTable.routeTableId}`,
        )
        .join(','),
    );
    output(
      'ClusterSecurityGroupId',
      'eksClusters[].securityGroupId of the runbooks configuration',
      clusterSecurityGroupId,
    );
    output(
      'DatabaseSecretArn',
      'restoreTests.databases[].credentialsSecretArn of the runbooks configuration (the RDS-managed master secret)',
      this.database.masterSecretArn,
    );
    output(
      'DatabaseKeyArn',
      'restoreTests.databases[].kmsKeyArn and credentialsKmsKeyArn of the runbooks configuration',
      databaseKey.keyArn,
    );
    output('AlarmTopicArn', "The platform alarms' SNS topic", this.alarms.topic.topicArn);
    for (const purpose of ['backups', 'logs', 'reports'] as const) {
      output(
        `${purpose.charAt(0).toUpperCase()}${purpose.slice(1)}BucketName`,
        `The ${purpose} bucket`,
        this.buckets.buckets[purpose].bucketName,
      );
    }
  }

  /** The configured zones: no lookup, so synth needs no credentials even with an account and region. */
  public override get availabilityZones(): string[] {
    return this.zones;
  }
}
