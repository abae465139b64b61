import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { CfnAccessEntry, CfnAddon, CfnCluster } from 'aws-cdk-lib/aws-eks';
import { ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface PlatformClusterProps {
  readonly environment: string;
  readonly clusterName: string;
  /** Kubernetes version, e.g. "1.33". */
  readonly version: string;
  readonly vpc: IVpc;
  /** Where the control plane's network interfaces and the Auto Mode nodes go. */
  readonly subnets: SubnetSelection;
  /** A public endpoint as well as the private one, restricted to `publicAccessCidrs`. */
  readonly endpointPublicAccess: boolean;
  readonly publicAccessCidrs: readonly string[];
  /** IAM principals given cluster-admin through access entries. */
  readonly admins: readonly string[];
  readonly deletionProtection: boolean;
  /** Envelope encryption of Kubernetes Secrets. */
  readonly secretsKey: IKey;
  /** Encrypts the control-plane log group. */
  readonly logKey: IKey;
  readonly logRetentionDays: number;
}

/** Every control-plane log type (EKS user guide, "Send control plane logs to CloudWatch Logs"). */
export const CONTROL_PLANE_LOG_TYPES = ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'];

/** The managed policies the cluster role needs for EKS Auto Mode (EKS user guide, "Auto Mode cluster IAM role"). */
export const AUTO_MODE_CLUSTER_POLICIES = [
  'AmazonEKSClusterPolicy',
  'AmazonEKSComputePolicy',
  'AmazonEKSBlockStoragePolicy',
  'AmazonEKSLoadBalancingPolicy',
  'AmazonEKSNetworkingPolicy',
];
/** The managed policies of the Auto Mode node role (EKS user guide, "Auto Mode node IAM role"). */
export const AUTO_MODE_NODE_POLICIES = [
  'AmazonEKSWorkerNodeMinimalPolicy',
  'AmazonEC2ContainerRegistryPullOnly',
];

/** The CloudWatch agent's managed policies (CloudWatch user guide, the observability add-on). */
export const OBSERVABILITY_POLICIES = ['CloudWatchAgentServerPolicy', 'AWSXrayWriteOnlyAccess'];

/** cdk-nag names each managed policy in its finding: one acknowledgement per policy, with the reason. */
function acknowledgeManagedPolicies(role: Role, policies: readonly string[], why: string): void {
  for (const policy of policies) {
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policy}]`,
      reason: `${policy} on ${why}.`,
    });
  }
}

/**
 * The EKS cluster, as the L1 `CfnCluster` with EKS Auto Mode: compute (the `general-purpose` and `system` node
 * pools), block storage and load balancing are run by EKS itself, so an Ingress gets an ALB without the AWS
 * Load Balancer Controller, and nothing here runs kubectl (no custom resource, no Lambda). Authentication mode
 * API: who may do what is in access entries, admins here, the runbooks' roles in the runbooks stack. Private
 * endpoint by default, every control-plane log type, Secrets encrypted with a key of ours, and the
 * `amazon-cloudwatch-observability` add-on (Container Insights) with its own role through Pod Identity.
 */
export class PlatformCluster extends Construct {
  public readonly cluster: CfnCluster;
  public readonly clusterRole: Role;
  public readonly nodeRole: Role;
  public readonly observabilityRole: Role;
  public readonly observabilityAddon: CfnAddon;
  public readonly adminEntries: CfnAccessEntry[];
  public readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: PlatformClusterProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const managed = (name: string) => ManagedPolicy.fromAwsManagedPolicyName(name);

    this.clusterRole = new Role(this, 'ClusterRole', {
      description: `EKS Auto Mode cluster role of ${props.clusterName}`,
      assumedBy: new ServicePrincipal('eks.amazonaws.com').withSessionTags(),
      managedPolicies: AUTO_MODE_CLUSTER_POLICIES.map(managed),
    });
    this.nodeRole = new Role(this, 'NodeRole', {
      description: `EKS Auto Mode node role of ${props.clusterName}`,
      assumedBy: new ServicePrincipal('ec2.amazonaws.com'),
      managedPolicies: AUTO_MODE_NODE_POLICIES.map(managed),
    });
    acknowledgeManagedPolicies(
      this.clusterRole,
      AUTO_MODE_CLUSTER_POLICIES,
      'the cluster role of EKS Auto Mode: the EKS user guide ("Auto Mode cluster IAM role") prescribes these AWS managed policies, and AWS extends them as Auto Mode gains features; a copy of ours would drift',
    );
    acknowledgeManagedPolicies(
      this.nodeRole,
      AUTO_MODE_NODE_POLICIES,
      'the node role of EKS Auto Mode: the EKS user guide ("Auto Mode node IAM role") prescribes these AWS managed policies, the least a node needs (register, pull images)',
    );

    // EKS writes to this group by name; created here so it has a retention and our key.
    this.logGroup = new LogGroup(this, 'ControlPlaneLogs', {
      logGroupName: `/aws/eks/${props.clusterName}/cluster`,
      retention: props.logRetentionDays as RetentionDays,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const subnetIds = props.vpc.selectSubnets(props.subnets).subnetIds;
    this.cluster = new CfnCluster(this, 'Cluster', {
      name: props.clusterName,
      version: props.version,
      roleArn: this.clusterRole.roleArn,
      resourcesVpcConfig: {
        subnetIds,
        endpointPrivateAccess: true,
        endpointPublicAccess: props.endpointPublicAccess,
        ...(props.endpointPublicAccess && { publicAccessCidrs: [...props.publicAccessCidrs] }),
      },
      accessConfig: { authenticationMode: 'API', bootstrapClusterCreatorAdminPermissions: false },
      // Auto Mode: EKS runs the VPC CNI, kube-proxy and CoreDNS itself.
      bootstrapSelfManagedAddons: false,
      computeConfig: {
        enabled: true,
        nodePools: ['general-purpose', 'system'],
        nodeRoleArn: this.nodeRole.roleArn,
      },
      kubernetesNetworkConfig: { elasticLoadBalancing: { enabled: true } },
      storageConfig: { blockStorage: { enabled: true } },
      encryptionConfig: [{ provider: { keyArn: props.secretsKey.keyArn }, resources: ['secrets'] }],
      logging: { clusterLogging: { enabledTypes: CONTROL_PLANE_LOG_TYPES.map((type) => ({ type })) } },
      deletionProtection: props.deletionProtection,
      upgradePolicy: { supportType: 'STANDARD' },
    });
    this.cluster.node.addDependency(this.logGroup);
    Validations.of(this.cluster).acknowledge({
      id: 'CloudFormation-Validate::W9009',
      reason:
        "EncryptionConfig.Resources is deprecated in CloudFormation's schema (secrets are the only encryptable resource), but Control Tower's CT.EKS.PR.2 still requires it to list 'secrets'; the value is the only one EKS accepts.",
    });
    if (props.endpointPublicAccess) {
      Validations.of(this.cluster).acknowledge({
        id: 'cdk-validator-cfnguard::eks_endpoint_no_public_access',
        reason: `platform.eks.endpointPublicAccess is true in the configuration, restricted to ${props.publicAccessCidrs.join(', ')}; an account that enforces CT.EKS.PR.1 refuses this stack.`,
      });
    }

    const adminPolicy = `arn:${stack.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy`;
    this.adminEntries = props.admins.map(
      (principalArn, index) =>
        new CfnAccessEntry(this, `AdminAccess${index}`, {
          clusterName: this.cluster.ref,
          principalArn,
          type: 'STANDARD',
          accessPolicies: [{ policyArn: adminPolicy, accessScope: { type: 'cluster' } }],
        }),
    );

    // Container Insights: the agent's permissions through Pod Identity (add-on 3.1.0+; Auto Mode runs the
    // Pod Identity agent), on its service account only, rather than on every node.
    this.observabilityRole = new Role(this, 'ObservabilityRole', {
      description: `CloudWatch agent of ${props.clusterName} (amazon-cloudwatch-observability, Pod Identity)`,
      assumedBy: new ServicePrincipal('pods.eks.amazonaws.com').withSessionTags(),
      managedPolicies: OBSERVABILITY_POLICIES.map(managed),
    });
    acknowledgeManagedPolicies(
      this.observabilityRole,
      OBSERVABILITY_POLICIES,
      "the CloudWatch agent's role: the CloudWatch user guide names these AWS managed policies as the permissions of the amazon-cloudwatch-observability add-on, and AWS updates them with the agent; only its service account can assume the role (Pod Identity)",
    );
    this.observabilityAddon = new CfnAddon(this, 'ObservabilityAddon', {
      clusterName: this.cluster.ref,
      addonName: 'amazon-cloudwatch-observability',
      resolveConflicts: 'OVERWRITE',
      podIdentityAssociations: [
        { serviceAccount: 'cloudwatch-agent', roleArn: this.observabilityRole.roleArn },
      ],
    });
  }
}
