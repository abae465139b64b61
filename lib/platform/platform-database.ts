import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  InstanceType,
  type IVpc,
  Peer,
  Port,
  SecurityGroup,
  type SubnetSelection,
} from 'aws-cdk-lib/aws-ec2';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  CaCertificate,
  Credentials,
  type CfnDBInstance,
  DatabaseInstance,
  DatabaseInstanceEngine,
  ParameterGroup,
  type PerformanceInsightRetention,
  PostgresEngineVersion,
  StorageType,
} from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import type { PlatformSection } from '../config/platform';

export interface PlatformDatabaseProps {
  readonly environment: string;
  readonly settings: PlatformSection['database'];
  readonly vpc: IVpc;
  /** The data subnets. */
  readonly subnets: SubnetSelection;
  /** Where connections may come from: the cluster security group (EKS Auto Mode nodes and pods use it). */
  readonly clientSecurityGroupId: string;
  /** Storage, Performance Insights and the master secret. */
  readonly key: IKey;
  /** Encrypts the exported PostgreSQL logs. */
  readonly logKey: IKey;
  readonly logRetentionDays: number;
}

/** PostgreSQL's port: the restore test connects to its copies on it too. */
export const POSTGRES_PORT = 5432;
/** The administrator's user name. */
export const MASTER_USERNAME = 'platform_admin';
/** The log types exported to CloudWatch Logs. */
const LOG_EXPORTS = ['postgresql', 'upgrade'];

/**
 * RDS PostgreSQL in the data subnets: KMS-encrypted storage, Performance Insights and master secret (the secret
 * created and rotated by RDS itself: no rotation Lambda of ours), TLS required (`rds.force_ssl`), IAM
 * authentication, logs exported to encrypted log groups created here, gp3 storage autoscaling. Multi-AZ,
 * deletion protection and backup retention from the configuration; a deleted stack leaves a final snapshot.
 */
export class PlatformDatabase extends Construct {
  public readonly instance: DatabaseInstance;
  public readonly securityGroup: SecurityGroup;
  public readonly parameterGroup: ParameterGroup;
  /** The master user's secret, created and rotated by RDS. */
  public readonly masterSecretArn: string;

  constructor(scope: Construct, id: string, props: PlatformDatabaseProps) {
    super(scope, id);
    const { settings } = props;
    const major = settings.engineVersion.split('.')[0] ?? settings.engineVersion;
    const engine = DatabaseInstanceEngine.postgres({
      version: PostgresEngineVersion.of(settings.engineVersion, major),
    });
    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `platform-${props.environment} PostgreSQL: from the EKS cluster only`,
      allowAllOutbound: false,
    });
    this.securityGroup.addIngressRule(
      Peer.securityGroupId(props.clientSecurityGroupId),
      Port.tcp(POSTGRES_PORT),
      'PostgreSQL from the EKS cluster security group',
    );
    this.parameterGroup = new ParameterGroup(this, 'Parameters', {
      engine,
      description: `platform-${props.environment} PostgreSQL: TLS only, slow statements logged`,
      parameters: {
        'rds.force_ssl': '1',
        log_min_duration_statement: '1000',
        log_connections: '1',
        log_disconnections: '1',
      },
    });
    const logGroups = LOG_EXPORTS.map(
      (type) =>
        new LogGroup(this, `Logs-${type}`, {
          logGroupName: `/aws/rds/instance/${settings.instanceIdentifier}/${type}`,
          retention: props.logRetentionDays as RetentionDays,
          encryptionKey: props.logKey,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
    );
    this.instance = new DatabaseInstance(this, 'Instance', {
      instanceIdentifier: settings.instanceIdentifier,
      engine,
      instanceType: new InstanceType(settings.instanceClass.replace(/^db\./, '')),
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [this.securityGroup],
      port: POSTGRES_PORT,
      databaseName: settings.databaseName,
      // The secret is created, encrypted with our key and rotated by RDS (no rotation Lambda of ours); the
      // administrator is not called postgres (Control Tower CT.RDS.PR.22).
      manageMasterUserPassword: true,
      credentials: Credentials.fromUsername(MASTER_USERNAME, { encryptionKey: props.key }),
      monitoringInterval: Duration.seconds(60),
      multiAz: settings.multiAz,
      storageType: StorageType.GP3,
      allocatedStorage: settings.allocatedStorageGiB,
      maxAllocatedStorage: settings.maxAllocatedStorageGiB,
      storageEncrypted: true,
      storageEncryptionKey: props.key,
      backupRetention: Duration.days(settings.backupRetentionDays),
      preferredBackupWindow: '03:00-04:00',
      preferredMaintenanceWindow: 'Mon:04:30-Mon:05:30',
      copyTagsToSnapshot: true,
      deletionProtection: settings.deletionProtection,
      removalPolicy: RemovalPolicy.SNAPSHOT,
      enablePerformanceInsights: true,
      performanceInsightRetention: settings.performanceInsightsRetentionDays as PerformanceInsightRetention,
      performanceInsightEncryptionKey: props.key,
      parameterGroup: this.parameterGroup,
      cloudwatchLogsExports: LOG_EXPORTS,
      iamAuthentication: true,
      autoMinorVersionUpgrade: true,
      publiclyAccessible: false,
      caCertificate: CaCertificate.RDS_CA_RSA2048_G1,
    });
    for (const logGroup of logGroups) this.instance.node.addDependency(logGroup);
    // The RDS-managed secret is encrypted with our key too.
    this.masterSecretArn = (this.instance.node.defaultChild as CfnDBInstance).attrMasterUserSecretSecretArn;

    const defaultPort =
      "PostgreSQL's default port 5432: the instance is reachable only from the cluster security group in isolated subnets, and the restore test connects to its copies on the same port; a non-default port hides nothing from a scan inside the VPC.";
    Validations.of(this.instance).acknowledge({ id: 'AwsSolutions-RDS11', reason: defaultPort });
    Validations.of(this.instance).acknowledge({
      id: 'cdk-validator-cfnguard::rds_instance_no_default_ports_check',
      reason: defaultPort,
    });
    const monitoringRole = this.instance.node.tryFindChild('MonitoringRole');
    if (monitoringRole) {
      Validations.of(monitoringRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]',
        reason:
          'The role RDS enhanced monitoring assumes, with the AWS managed policy the RDS user guide prescribes for it; it can only write the monitoring log group.',
      });
    }
    if (!settings.multiAz) {
      const reason = `platform.database.multiAz is false for ${props.environment} in the configuration (cost); production sets it. An account that enforces the control refuses this stack.`;
      Validations.of(this.instance).acknowledge({ id: 'AwsSolutions-RDS3', reason });
      Validations.of(this.instance).acknowledge({
        id: 'cdk-validator-cfnguard::rds_instance_multi_az_support_check',
        reason,
      });
    }
    if (!settings.deletionProtection) {
      const reason = `platform.database.deletionProtection is false for ${props.environment} in the configuration, so the environment can be torn down; a deleted stack still leaves a final snapshot (DeletionPolicy Snapshot).`;
      Validations.of(this.instance).acknowledge({ id: 'AwsSolutions-RDS10', reason });
      Validations.of(this.instance).acknowledge({
        id: 'cdk-validator-cfnguard::rds_instance_deletion_protection_enabled_check',
        reason,
      });
    }
  }
}
