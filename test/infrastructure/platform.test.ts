import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { AUTO_MODE_CLUSTER_POLICIES, AUTO_MODE_NODE_POLICIES } from '../../lib/platform/platform-cluster';
import { PLATFORM_ENVIRONMENTS, platformControlTowerFindings, synthPlatform } from './platform-synth';

const managedPolicy = (name: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::aws:policy/${name}`]],
});

/** What each example environment must get, from its configuration file. */
const expected = {
  dev: {
    nat: 1,
    endpoints: 0,
    dbMultiAz: false,
    protection: false,
    backupDays: 7,
    cacheNodes: 1,
    failover: false,
  },
  staging: {
    nat: 1,
    endpoints: 5,
    dbMultiAz: false,
    protection: false,
    backupDays: 14,
    cacheNodes: 2,
    failover: true,
  },
  production: {
    nat: 3,
    endpoints: 8,
    dbMultiAz: true,
    protection: true,
    backupDays: 30,
    cacheNodes: 2,
    failover: true,
  },
} as const;

describe.each(PLATFORM_ENVIRONMENTS)('the %s platform', (environment) => {
  const want = expected[environment];
  const synthesized = () => synthPlatform(environment);

  describe('network', () => {
    it('has three public, three application and three data subnets over the three named zones', () => {
      const { template } = synthesized();
      template.resourceCountIs('AWS::EC2::Subnet', 9);
      for (const zone of ['eu-west-1a', 'eu-west-1b', 'eu-west-1c']) {
        for (const tier of ['public', 'application', 'data']) {
          template.hasResourceProperties('AWS::EC2::Subnet', {
            AvailabilityZone: zone,
            Tags: Match.arrayWith([{ Key: 'aws-cdk:subnet-name', Value: tier }]),
          });
        }
      }
      template.hasResourceProperties('AWS::EC2::Subnet', {
        MapPublicIpOnLaunch: false,
        Tags: Match.arrayWith([{ Key: 'kubernetes.io/role/elb', Value: '1' }]),
      });
      template.hasResourceProperties('AWS::EC2::Subnet', {
        Tags: Match.arrayWith([{ Key: 'kubernetes.io/role/internal-elb', Value: '1' }]),
      });
    });

    it(`has ${want.nat} NAT gateway(s)`, () => {
      synthesized().template.resourceCountIs('AWS::EC2::NatGateway', want.nat);
    });

    it('logs all traffic to an encrypted log group', () => {
      const { template } = synthesized();
      template.hasResourceProperties('AWS::EC2::FlowLog', {
        TrafficType: 'ALL',
        LogDestinationType: 'cloud-watch-logs',
      });
      template.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: `/platform/${environment}/vpc-flow-logs`,
        KmsKeyId: Match.anyValue(),
        RetentionInDays: 365,
      });
    });

    it(`has the S3 and DynamoDB gateway endpoints and ${want.endpoints} interface endpoints with private DNS`, () => {
      const { template } = synthesized();
      template.resourcePropertiesCountIs('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway' }, 2);
      template.resourcePropertiesCountIs(
        'AWS::EC2::VPCEndpoint',
        { VpcEndpointType: 'Interface', PrivateDnsEnabled: true },
        want.endpoints,
      );
    });
  });

  describe('EKS', () => {
    it('is an Auto Mode cluster with load balancing and block storage, API authentication, private endpoint, every log', () => {
      synthesized().template.hasResourceProperties('AWS::EKS::Cluster', {
        Name: `platform-${environment}`,
        Version: '1.33',
        AccessConfig: { AuthenticationMode: 'API', BootstrapClusterCreatorAdminPermissions: false },
        BootstrapSelfManagedAddons: false,
        ComputeConfig: {
          Enabled: true,
          NodePools: ['general-purpose', 'system'],
          NodeRoleArn: Match.anyValue(),
        },
        KubernetesNetworkConfig: { ElasticLoadBalancing: { Enabled: true } },
        StorageConfig: { BlockStorage: { Enabled: true } },
        ResourcesVpcConfig: { EndpointPrivateAccess: true, EndpointPublicAccess: false },
        EncryptionConfig: [{ Provider: { KeyArn: Match.anyValue() }, Resources: ['secrets'] }],
        Logging: {
          ClusterLogging: {
            EnabledTypes: ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'].map((type) => ({
              Type: type,
            })),
          },
        },
        DeletionProtection: want.protection,
      });
    });

    it('gives the cluster and node roles the managed policies Auto Mode requires', () => {
      const { template } = synthesized();
      template.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: {
          Statement: [
            {
              Action: ['sts:AssumeRole', 'sts:TagSession'],
              Effect: 'Allow',
              Principal: { Service: 'eks.amazonaws.com' },
            },
          ],
        },
        ManagedPolicyArns: AUTO_MODE_CLUSTER_POLICIES.map(managedPolicy),
      });
      template.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: {
          Statement: [
            { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' } },
          ],
        },
        ManagedPolicyArns: AUTO_MODE_NODE_POLICIES.map(managedPolicy),
      });
    });

    it('gives the configured admins cluster-admin through access entries, and no runbook role', () => {
      const { template } = synthesized();
      template.resourceCountIs('AWS::EKS::AccessEntry', 1);
      template.hasResourceProperties('AWS::EKS::AccessEntry', {
        PrincipalArn: 'arn:aws:iam::123456789012:role/PlatformAdmin',
        Type: 'STANDARD',
        AccessPolicies: [
          {
            PolicyArn: {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy',
                ],
              ],
            },
            AccessScope: { Type: 'cluster' },
          },
        ],
      });
    });

    it('installs the CloudWatch observability add-on with its role through Pod Identity', () => {
      const { template } = synthesized();
      template.hasResourceProperties('AWS::EKS::Addon', {
        AddonName: 'amazon-cloudwatch-observability',
        PodIdentityAssociations: [{ ServiceAccount: 'cloudwatch-agent', RoleArn: Match.anyValue() }],
      });
      template.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: {
          Statement: [
            {
              Action: ['sts:AssumeRole', 'sts:TagSession'],
              Principal: { Service: 'pods.eks.amazonaws.com' },
              Effect: 'Allow',
            },
          ],
        },
      });
    });

    it('keeps the control-plane logs in an encrypted group with a retention', () => {
      synthesized().template.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: `/aws/eks/platform-${environment}/cluster`,
        KmsKeyId: Match.anyValue(),
        RetentionInDays: 365,
      });
    });
  });

  describe('RDS PostgreSQL', () => {
    it(`is encrypted with a key of ours, ${want.dbMultiAz ? 'multi-AZ' : 'single-AZ'}, ${want.protection ? 'with' : 'without'} deletion protection, ${want.backupDays} days of backups`, () => {
      const { template } = synthesized();
      template.hasResourceProperties('AWS::RDS::DBInstance', {
        DBInstanceIdentifier: `platform-${environment}-app`,
        Engine: 'postgres',
        EngineVersion: '17.6',
        StorageEncrypted: true,
        KmsKeyId: Match.anyValue(),
        MultiAZ: want.dbMultiAz,
        DeletionProtection: want.protection,
        BackupRetentionPeriod: want.backupDays,
        EnablePerformanceInsights: true,
        PerformanceInsightsKMSKeyId: Match.anyValue(),
        ManageMasterUserPassword: true,
        MasterUsername: 'platform_admin',
        MasterUserSecret: { KmsKeyId: Match.anyValue() },
        MasterUserPassword: Match.absent(),
        PubliclyAccessible: false,
        StorageType: 'gp3',
        EnableCloudwatchLogsExports: ['postgresql', 'upgrade'],
      });
    });

    it('leaves a final snapshot when the stack is deleted', () => {
      synthesized().template.hasResource('AWS::RDS::DBInstance', { DeletionPolicy: 'Snapshot' });
    });

    it('requires TLS through its parameter group', () => {
      synthesized().template.hasResourceProperties('AWS::RDS::DBParameterGroup', {
        Family: 'postgres17',
        Parameters: Match.objectLike({ 'rds.force_ssl': '1' }),
      });
    });

    it('lives in the data subnets and admits only the cluster security group', () => {
      const { template } = synthesized();
      template.hasResourceProperties('AWS::RDS::DBSubnetGroup', {
        SubnetIds: Match.arrayWith([{ Ref: Match.stringLikeRegexp('NetworkVpcdataSubnet1') }]),
      });
      template.hasResourceProperties('AWS::EC2::SecurityGroup', {
        GroupDescription: `platform-${environment} PostgreSQL: from the EKS cluster only`,
        SecurityGroupIngress: [
          {
            IpProtocol: 'tcp',
            FromPort: 5432,
            ToPort: 5432,
            SourceSecurityGroupId: { 'Fn::GetAtt': ['EksCluster9EEA9CA8', 'ClusterSecurityGroupId'] },
            Description: 'PostgreSQL from the EKS cluster security group',
          },
        ],
      });
    });
  });

  describe('Redis', () => {
    it(`encrypts in transit and at rest, ${want.cacheNodes} node(s), failover ${want.failover ? 'on' : 'off'}, multi-AZ ${want.dbMultiAz ? 'on' : 'off'}`, () => {
      synthesized().template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
        ReplicationGroupId: `platform-${environment}-redis`,
        TransitEncryptionEnabled: true,
        TransitEncryptionMode: 'required',
        AtRestEncryptionEnabled: true,
        KmsKeyId: Match.anyValue(),
        NumCacheClusters: want.cacheNodes,
        AutomaticFailoverEnabled: want.failover,
        MultiAZEnabled: want.dbMultiAz,
        UserGroupIds: [Match.anyValue()],
      });
    });

    it('authenticates with IAM, the default user switched off', () => {
      const { template } = synthesized();
      template.hasResourceProperties('AWS::ElastiCache::User', {
        UserName: 'default',
        AccessString: 'off -@all',
      });
      template.hasResourceProperties('AWS::ElastiCache::User', {
        UserName: `platform-${environment}-app`,
        AuthenticationMode: { Type: 'iam' },
      });
    });
  });

  describe('S3', () => {
    it('has backups, logs and reports buckets: KMS, versioned, TLS only, public access blocked, to Glacier, access-logged', () => {
      const { template } = synthesized();
      template.resourcePropertiesCountIs(
        'AWS::S3::Bucket',
        {
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              {
                ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() },
                BucketKeyEnabled: true,
              },
            ],
          },
          VersioningConfiguration: { Status: 'Enabled' },
          PublicAccessBlockConfiguration: {
            BlockPublicAcls: true,
            BlockPublicPolicy: true,
            IgnorePublicAcls: true,
            RestrictPublicBuckets: true,
          },
          LoggingConfiguration: { DestinationBucketName: Match.anyValue(), LogFilePrefix: Match.anyValue() },
          LifecycleConfiguration: {
            Rules: [
              Match.objectLike({
                Transitions: [{ StorageClass: 'GLACIER', TransitionInDays: Match.anyValue() }],
              }),
            ],
          },
        },
        3,
      );
      template.resourcePropertiesCountIs(
        'AWS::S3::BucketPolicy',
        {
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
            ]),
          },
        },
        4,
      );
    });
  });

  it('encrypts every key-capable resource and rotates every key', () => {
    const { template } = synthesized();
    for (const [, resource] of Object.entries(template.findResources('AWS::Logs::LogGroup'))) {
      expect(resource.Properties.KmsKeyId).toBeDefined();
    }
    for (const [, resource] of Object.entries(template.findResources('AWS::KMS::Key'))) {
      expect(resource.Properties.EnableKeyRotation).toBe(true);
    }
    template.hasResourceProperties('AWS::SNS::Topic', {
      TopicName: `platform-${environment}-alarms`,
      KmsMasterKeyId: Match.anyValue(),
    });
  });

  it('names its resources after the environment, so a diff keeps them', () => {
    const { template } = synthesized();
    template.hasResourceProperties('AWS::EC2::VPC', {
      Tags: Match.arrayWith([{ Key: 'Name', Value: `platform-${environment}` }]),
    });
    template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: `alias/platform-${environment}-database`,
    });
    // Logical ids of the main resources: renaming a construct would replace them.
    expect(Object.keys(template.findResources('AWS::EKS::Cluster'))).toEqual(['EksCluster9EEA9CA8']);
    expect(Object.keys(template.findResources('AWS::RDS::DBInstance'))).toEqual(['DatabaseInstanceAA8A5FDE']);
    expect(Object.keys(template.findResources('AWS::ElastiCache::ReplicationGroup'))).toEqual([
      'CacheReplicationGroupBFE59FF3',
    ]);
  });

  it('leaves no cdk-nag AwsSolutions finding unacknowledged', () => {
    expect(synthesized().findings).toEqual([]);
  });

  it('leaves no Control Tower finding unacknowledged', () => {
    expect(platformControlTowerFindings(environment)).toEqual([]);
  });
});
