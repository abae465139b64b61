import { RemovalPolicy } from 'aws-cdk-lib';
import type { IPrincipal } from 'aws-cdk-lib/aws-iam';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { restrictGrantsToAwsServices } from '../kms-key-policy';

export interface PlatformKeyProps {
  /** Short environment name, in the alias and description. */
  readonly environment: string;
  /** What the key encrypts, in the alias (`alias/platform-<environment>-<purpose>`). */
  readonly purpose: string;
  /** Whether the key outlives a deleted stack (data encrypted with it may: snapshots, buckets). */
  readonly retain: boolean;
  /**
   * A service principal that uses the key with conditions of its own (CloudWatch Logs for its log groups).
   * @default - none: services use the key through grants made by the callers (RDS, EKS, ElastiCache, S3)
   */
  readonly servicePrincipal?: {
    principal: IPrincipal;
    actions: string[];
    conditions: Record<string, unknown>;
  };
}

/**
 * A customer managed KMS key of the platform: rotated yearly, grants only for AWS services (Control Tower
 * CT.KMS.PR.3), one per kind of data so a key policy names one consumer.
 */
export class PlatformKey extends Construct {
  public readonly key: Key;

  constructor(scope: Construct, id: string, props: PlatformKeyProps) {
    super(scope, id);
    this.key = new Key(this, 'Key', {
      description: `Encrypts the platform's ${props.purpose} (${props.environment})`,
      alias: `alias/platform-${props.environment}-${props.purpose}`,
      enableKeyRotation: true,
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    if (props.servicePrincipal) {
      this.key.addToResourcePolicy(
        new PolicyStatement({
          sid: 'AllowServiceForThisAccountsResources',
          principals: [props.servicePrincipal.principal],
          actions: props.servicePrincipal.actions,
          resources: ['*'],
          conditions: props.servicePrincipal.conditions,
        }),
      );
    }
    restrictGrantsToAwsServices(this.key);
  }
}
