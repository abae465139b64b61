import { Validations } from 'aws-cdk-lib';
import { type IVpc, Peer, Port, SecurityGroup, type SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { CfnReplicationGroup, CfnSubnetGroup, CfnUser, CfnUserGroup } from 'aws-cdk-lib/aws-elasticache';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { PlatformSection } from '../config/platform';

export interface PlatformCacheProps {
  readonly environment: string;
  readonly settings: PlatformSection['cache'];
  readonly vpc: IVpc;
  /** The data subnets. */
  readonly subnets: SubnetSelection;
  /** Where connections may come from: the cluster security group. */
  readonly clientSecurityGroupId: string;
  /** Encryption at rest. */
  readonly key: IKey;
}

export const REDIS_PORT = 6379;

/**
 * ElastiCache for Redis OSS (`CfnReplicationGroup`: the L2 does not exist), in the data subnets: TLS required,
 * encrypted at rest with our key, reachable from the cluster only. Access control by RBAC with IAM
 * authentication (no password to store or rotate): the `default` user is switched off, and the application's
 * user (`platform-<environment>-app`, IAM) may run everything but dangerous commands. Replicas (automatic
 * failover with any), multi-AZ and snapshot retention from the configuration.
 */
export class PlatformCache extends Construct {
  public readonly replicationGroup: CfnReplicationGroup;
  public readonly securityGroup: SecurityGroup;
  public readonly appUser: CfnUser;

  constructor(scope: Construct, id: string, props: PlatformCacheProps) {
    super(scope, id);
    const { settings, environment } = props;
    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `platform-${environment} Redis: from the EKS cluster only`,
      allowAllOutbound: false,
    });
    this.securityGroup.addIngressRule(
      Peer.securityGroupId(props.clientSecurityGroupId),
      Port.tcp(REDIS_PORT),
      'Redis from the EKS cluster security group',
    );
    const subnetGroup = new CfnSubnetGroup(this, 'SubnetGroup', {
      cacheSubnetGroupName: `platform-${environment}-redis`,
      description: `platform-${environment} Redis: the data subnets`,
      subnetIds: props.vpc.selectSubnets(props.subnets).subnetIds,
    });

    // A user group must hold a user named "default"; this one can do nothing.
    const defaultUser = new CfnUser(this, 'DefaultUser', {
      engine: 'redis',
      userId: `platform-${environment}-default`,
      userName: 'default',
      accessString: 'off -@all',
      authenticationMode: { Type: 'no-password-required' },
    });
    // IAM authentication: the user id and name must be equal.
    this.appUser = new CfnUser(this, 'AppUser', {
      engine: 'redis',
      userId: `platform-${environment}-app`,
      userName: `platform-${environment}-app`,
      accessString: 'on ~* &* +@all -@dangerous',
      authenticationMode: { Type: 'iam' },
    });
    const userGroup = new CfnUserGroup(this, 'UserGroup', {
      engine: 'redis',
      userGroupId: `platform-${environment}-redis`,
      userIds: [defaultUser.userId, this.appUser.userId],
    });
    userGroup.node.addDependency(defaultUser);
    userGroup.node.addDependency(this.appUser);

    this.replicationGroup = new CfnReplicationGroup(this, 'ReplicationGroup', {
      replicationGroupId: `platform-${environment}-redis`,
      replicationGroupDescription: `platform-${environment} Redis`,
      engine: 'redis',
      engineVersion: settings.engineVersion,
      cacheNodeType: settings.nodeType,
      numCacheClusters: 1 + settings.replicas,
      // ElastiCache requires failover with replicas, and multi-AZ requires failover.
      automaticFailoverEnabled: settings.replicas > 0,
      multiAzEnabled: settings.multiAz,
      port: REDIS_PORT,
      cacheSubnetGroupName: subnetGroup.ref,
      securityGroupIds: [this.securityGroup.securityGroupId],
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      atRestEncryptionEnabled: true,
      kmsKeyId: props.key.keyArn,
      userGroupIds: [userGroup.ref],
      snapshotRetentionLimit: settings.snapshotRetentionDays,
      snapshotWindow: '02:00-03:00',
      preferredMaintenanceWindow: 'mon:05:30-mon:06:30',
      autoMinorVersionUpgrade: true,
    });
    this.replicationGroup.node.addDependency(subnetGroup);
    this.replicationGroup.node.addDependency(userGroup);

    Validations.of(this.replicationGroup).acknowledge({
      id: 'AwsSolutions-AEC5',
      reason:
        "Redis's default port 6379: the group is reachable only from the cluster security group in isolated subnets, and every client authenticates (RBAC with IAM) over TLS.",
    });
    Validations.of(this.replicationGroup).acknowledge({
      id: 'AwsSolutions-AEC6',
      reason:
        'Clients authenticate with RBAC (a user group whose only enabled user authenticates with IAM), which ElastiCache offers instead of the single shared AUTH token: no password to store or rotate.',
    });
    if (!settings.multiAz) {
      Validations.of(this.replicationGroup).acknowledge({
        id: 'AwsSolutions-AEC4',
        reason: `platform.cache.multiAz is false for ${environment} in the configuration (cost): the cache holds nothing that cannot be rebuilt; production sets it.`,
      });
    }
    if (settings.replicas === 0) {
      Validations.of(this.replicationGroup).acknowledge({
        id: 'cdk-validator-cfnguard::elasticache_repl_grp_auto_failover_enabled_check',
        reason: `platform.cache.replicas is 0 for ${environment} in the configuration (cost): with no replica there is nothing to fail over to, and the cache holds nothing that cannot be rebuilt; production has replicas. An account that enforces CT.ELASTICACHE.PR.3 refuses this stack.`,
      });
    }
  }
}
