import { Stack, Validations } from 'aws-cdk-lib';
import { CfnAccessEntry } from 'aws-cdk-lib/aws-eks';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** A cluster the runbooks act in, and the namespaces they may touch there. */
export interface EksClusterAccess {
  /** The EKS cluster's name; its authentication mode must be `API` or `API_AND_CONFIG_MAP`. */
  readonly name: string;
  /** The namespaces the access policy is scoped to. */
  readonly namespaces: string[];
}

export interface EksRunbookAccessProps {
  /** Short environment name, used in the role's description. */
  readonly environment: string;
  /** The clusters, each with the namespaces the runbooks may act in. */
  readonly clusters: EksClusterAccess[];
  /**
   * The EKS access policy associated in each cluster, scoped to the cluster's namespaces.
   * @default 'AmazonEKSEditPolicy' - get/patch Deployments and Ingresses, list ReplicaSets; no RBAC changes
   */
  readonly accessPolicyName?: string;
}

/**
 * The one IAM role shared by the Lambdas that talk to Kubernetes, and its way into each cluster: an EKS
 * access entry (type STANDARD) with a namespace-scoped access policy, plus `eks:DescribeCluster` on exactly
 * the configured clusters (the endpoint and CA the client needs). Logs are granted per function by
 * `RunbookFunction` on its own log group (no AWSLambdaBasicExecutionRole); each runbook attaches its own
 * AWS permissions to `role`.
 */
export class EksRunbookAccess extends Construct {
  /** The role the Kubernetes-touching Lambdas run as. */
  public readonly role: Role;
  /** One access entry per configured cluster, in configuration order. */
  public readonly accessEntries: CfnAccessEntry[];
  /** The clusters and namespaces the role has access to. */
  public readonly clusters: EksClusterAccess[];

  constructor(scope: Construct, id: string, props: EksRunbookAccessProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.clusters = props.clusters.map(({ name, namespaces }) => ({ name, namespaces: [...namespaces] }));
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Kubernetes-touching Lambdas of the platform runbooks (${props.environment})`,
    });
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
        resources: ['*'],
      }),
    );
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only xray:PutTraceSegments and xray:PutTelemetryRecords use Resource "*": X-Ray defines no resource types for them (Service Authorization Reference), so they cannot be scoped.',
    });

    if (props.clusters.length > 0) {
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['eks:DescribeCluster'],
          resources: props.clusters.map((cluster) =>
            stack.formatArn({ service: 'eks', resource: 'cluster', resourceName: cluster.name }),
          ),
        }),
      );
    }

    const policyArn = `arn:${stack.partition}:eks::aws:cluster-access-policy/${props.accessPolicyName ?? 'AmazonEKSEditPolicy'}`;
    this.accessEntries = props.clusters.map(
      (cluster) =>
        new CfnAccessEntry(this, `AccessEntry-${cluster.name}`, {
          clusterName: cluster.name,
          principalArn: this.role.roleArn,
          type: 'STANDARD',
          accessPolicies: [{ policyArn, accessScope: { type: 'namespace', namespaces: cluster.namespaces } }],
        }),
    );
  }
}
