import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type CfnBucket,
  ObjectOwnership,
  StorageClass,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { restrictGrantsToAwsServices } from './kms-key-policy';

export interface RunbookReportsBucketProps {
  /** Short environment name, in the key's alias and description. */
  readonly environment: string;
}

/** How long one runbook's objects under a prefix are kept. */
export interface ReportRetention {
  /** The key prefix, e.g. `certificate-check/reports/`. */
  readonly prefix: string;
  /** Objects are deleted this many days after they were written. */
  readonly expireAfter: Duration;
  /**
   * Moved to Glacier Instant Retrieval after this long (still readable in milliseconds, a fifth of the
   * price); omitted or not shorter than `expireAfter`: never.
   * @default - never
   */
  readonly archiveAfter?: Duration;
}

/**
 * Where the runbooks keep their reports and the documents their steps hand each other: one bucket per stack,
 * a prefix per runbook, created by the first runbook that asks (`RunbookSharedResources.reportsBucket`).
 * - KMS-encrypted with its own rotated key (S3 Bucket Keys on, so a 10,000-line run is not 10,000 KMS
 *   calls); TLS only; public access blocked; ACLs off (bucket owner enforced);
 * - versioned, old versions kept 30 days (a report overwritten by mistake can be read back); Object Lock
 *   enabled without a default retention (legal holds possible); object events to EventBridge;
 * - server access logs to a second bucket (S3-managed encryption: S3 cannot deliver access logs to an
 *   SSE-KMS bucket), kept a year;
 * - retained when the stack is deleted: reports are the record of past runs.
 * Each runbook grants its steps exactly the prefixes they read or write (`grantWrite`, `grantRead`).
 */
/**
 * Object events to EventBridge (free without a rule), for tools that react to a new report (Control Tower
 * CT.S3.PR.4). Set on the CloudFormation resource, which supports it: `eventBridgeEnabled` would deploy a
 * custom-resource Lambda (BucketNotificationsHandler) to make the same call.
 */
function sendEventsToEventBridge(bucket: Bucket): void {
  (bucket.node.defaultChild as CfnBucket).notificationConfiguration = {
    eventBridgeConfiguration: { eventBridgeEnabled: true },
  };
}

export class RunbookReportsBucket extends Construct {
  public readonly bucket: Bucket;
  public readonly key: Key;
  public readonly accessLogsBucket: Bucket;

  constructor(scope: Construct, id: string, props: RunbookReportsBucketProps) {
    super(scope, id);
    // S3 writes the access logs under the logs bucket's policy, not an ACL: that bucket keeps ACLs off.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    this.key = new Key(this, 'Key', {
      description: `Encrypts the platform-runbooks reports bucket (${props.environment})`,
      alias: `alias/platform-runbooks-${props.environment}-reports`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    restrictGrantsToAwsServices(this.key);
    // Object Lock on, with no default retention: the lifecycle still expires objects, and a responder can put
    // a legal hold on a report that matters (Control Tower CT.S3.PR.9).
    const lock = { objectLockEnabled: true };

    this.accessLogsBucket = new Bucket(this, 'AccessLogs', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      ...lock,
      lifecycleRules: [{ expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        "This bucket receives the reports bucket's server access logs; logging it in turn would need another bucket without end.",
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: 'cdk-validator-cfnguard::s3_bucket_logging_enabled_check',
      reason:
        "This bucket receives the reports bucket's server access logs; logging it in turn would need another bucket without end.",
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: 'cdk-validator-cfnguard::s3_bucket_default_encryption_kms_check',
      reason:
        'S3 delivers server access logs only to buckets encrypted with SSE-S3 (S3 user guide, "Enabling Amazon S3 server access logging"): a KMS key here would stop the logs.',
    });

    this.bucket = new Bucket(this, 'Bucket', {
      encryption: BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      ...lock,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'reports-bucket/',
      lifecycleRules: [
        {
          id: 'OldVersions',
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const bucket of [this.accessLogsBucket, this.bucket]) sendEventsToEventBridge(bucket);
  }

  /** Keeps the objects under a prefix as long as `retention` says. */
  addRetention(retention: ReportRetention): void {
    const archive =
      retention.archiveAfter !== undefined && retention.archiveAfter.toDays() < retention.expireAfter.toDays()
        ? [{ storageClass: StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: retention.archiveAfter }]
        : [];
    this.bucket.addLifecycleRule({
      prefix: retention.prefix,
      expiration: retention.expireAfter,
      transitions: archive,
    });
  }

  /** `s3:PutObject` under `prefix` (and the key's data keys), nothing else. */
  grantWrite(grantee: IGrantable, prefix: string): PolicyStatement[] {
    return this.grant(grantee, prefix, ['s3:PutObject'], ['kms:GenerateDataKey']);
  }

  /**
   * `s3:GetObject` under `prefix` (and decryption with the key), and listing only that prefix: without
   * `s3:ListBucket`, S3 answers a missing key with 403 AccessDenied instead of 404 NoSuchKey, and a missing
   * document could not be told from a permission problem.
   */
  grantRead(grantee: IGrantable, prefix: string): PolicyStatement[] {
    const list = new PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
    });
    grantee.grantPrincipal.addToPrincipalPolicy(list);
    return [...this.grant(grantee, prefix, ['s3:GetObject'], ['kms:Decrypt']), list];
  }

  /** The ARN of the objects under `prefix` (ends with `*`). */
  objectsArn(prefix: string): string {
    return this.bucket.arnForObjects(`${prefix}*`);
  }

  private grant(grantee: IGrantable, prefix: string, s3Actions: string[], kmsActions: string[]) {
    const statements = [
      new PolicyStatement({ actions: s3Actions, resources: [this.objectsArn(prefix)] }),
      new PolicyStatement({ actions: kmsActions, resources: [this.key.keyArn] }),
    ];
    for (const statement of statements) grantee.grantPrincipal.addToPrincipalPolicy(statement);
    return statements;
  }
}
