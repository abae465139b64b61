import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type CfnBucket,
  ObjectOwnership,
  StorageClass,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { PlatformSection } from '../config/platform';

export interface PlatformBucketsProps {
  readonly environment: string;
  readonly settings: PlatformSection['buckets'];
  /** Encrypts the three data buckets. */
  readonly key: IKey;
  /** Whether the buckets outlive a deleted stack. */
  readonly retain: boolean;
}

/** The data buckets, by purpose: `platform-<environment>-<purpose>-<account>-<region>` would be the name. */
export const PLATFORM_BUCKETS = ['backups', 'logs', 'reports'] as const;
export type PlatformBucketPurpose = (typeof PLATFORM_BUCKETS)[number];

/**
 * The platform's buckets for backups, logs and reports: SSE-KMS with our key (Bucket Keys on), versioned, TLS
 * only, public access blocked, ACLs off, objects to Glacier Flexible Retrieval after `glacierAfterDays`
 * (and deleted after `expireAfterDays` when set), old versions kept 30 days, server access logs to a fourth
 * bucket (SSE-S3: S3 cannot deliver access logs to an SSE-KMS bucket), object events to EventBridge.
 */
export class PlatformBuckets extends Construct {
  public readonly buckets: Record<PlatformBucketPurpose, Bucket>;
  public readonly accessLogs: Bucket;

  constructor(scope: Construct, id: string, props: PlatformBucketsProps) {
    super(scope, id);
    // S3 writes the access logs under the logs bucket's policy, not an ACL: that bucket keeps ACLs off.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const removalPolicy = props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const common = {
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      // Legal holds possible (Control Tower CT.S3.PR.9); no default retention, so the lifecycle still expires.
      objectLockEnabled: true,
      removalPolicy,
    };
    this.accessLogs = new Bucket(this, 'AccessLogs', {
      ...common,
      encryption: BucketEncryption.S3_MANAGED,
      lifecycleRules: [{ expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) }],
    });
    const loop =
      "This bucket receives the other buckets' server access logs; logging it in turn would need another bucket without end.";
    Validations.of(this.accessLogs).acknowledge({ id: 'AwsSolutions-S1', reason: loop });
    Validations.of(this.accessLogs).acknowledge({
      id: 'cdk-validator-cfnguard::s3_bucket_logging_enabled_check',
      reason: loop,
    });
    Validations.of(this.accessLogs).acknowledge({
      id: 'cdk-validator-cfnguard::s3_bucket_default_encryption_kms_check',
      reason:
        'S3 delivers server access logs only to buckets encrypted with SSE-S3 (S3 user guide, "Enabling Amazon S3 server access logging"): a KMS key here would stop the logs.',
    });

    const expire =
      props.settings.expireAfterDays > 0 ? Duration.days(props.settings.expireAfterDays) : undefined;
    const transitions =
      expire === undefined || props.settings.glacierAfterDays < props.settings.expireAfterDays
        ? [
            {
              storageClass: StorageClass.GLACIER,
              transitionAfter: Duration.days(props.settings.glacierAfterDays),
            },
          ]
        : [];
    const entries = PLATFORM_BUCKETS.map((purpose) => {
      const bucket = new Bucket(this, purpose.charAt(0).toUpperCase() + purpose.slice(1), {
        ...common,
        encryption: BucketEncryption.KMS,
        encryptionKey: props.key,
        bucketKeyEnabled: true,
        serverAccessLogsBucket: this.accessLogs,
        serverAccessLogsPrefix: `${purpose}/`,
        lifecycleRules: [
          {
            id: 'Archive',
            transitions,
            ...(expire && { expiration: expire }),
            noncurrentVersionExpiration: Duration.days(30),
            abortIncompleteMultipartUploadAfter: Duration.days(1),
          },
        ],
      });
      return [purpose, bucket] as const;
    });
    this.buckets = Object.fromEntries(entries) as Record<PlatformBucketPurpose, Bucket>;
    for (const bucket of [this.accessLogs, ...Object.values(this.buckets)]) {
      (bucket.node.defaultChild as CfnBucket).notificationConfiguration = {
        eventBridgeConfiguration: { eventBridgeEnabled: true },
      };
    }
  }
}
