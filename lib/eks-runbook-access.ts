import { Stack, Validations } from 'aws-cdk-lib';
import { CfnAccessEntry } from 'aws-cdk-lib/aws-eks';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Construct, type IConstruct } from 'constructs';

/** A cluster the runbooks act in, and the namespaces they may touch there. */
export interface EksClusterAccess {
  /** The EKS cluster's name; its authentication mode must be `API` or `API_AND_CONFIG_MAP`. */
  readonly name: string;
  /** The namespaces the access policy is scoped to. */
  readonly namespaces: readonly string[];
}

/**
 * What a runbook step does in Kubernetes: `view` reads (`AmazonEKSViewPolicy`: get/list Deployments,
 * ReplicaSets…, no Secrets), `edit` also writes (`AmazonEKSEditPolicy`: patch Deployments; no RBAC changes).
 */
export type EksAccessLevel = 'view' | 'edit';

/** The EKS access policy of each level (EKS user guide, "access policy permissions"). */
const accessPolicies: Record<EksAccessLevel, string> = {
  view: 'AmazonEKSViewPolicy',
  edit: 'AmazonEKSEditPolicy',
};

/** What a runbook chooses for one of its steps; the stack supplies the clusters. */
export interface EksStepAccessOptions {
  /** The least the step needs in the cluster. */
  readonly accessLevel: EksAccessLevel;
  /** The role's description: which step of which runbook, in which environment. */
  readonly description: string;
  /**
   * Only these of the configured clusters get an access entry.
   * @default - every cluster of `eksClusters`
   */
  readonly clusterNames?: readonly string[];
  /**
   * Kubernetes groups the access entry puts the role in, for what no EKS access policy grants: the access
   * policies are fixed rule lists over Kubernetes' own API groups, and do not follow ClusterRole aggregation,
   * so custom resources (cert-manager's Certificates) need an RBAC binding of such a group in the cluster.
   * @default - none
   */
  readonly kubernetesGroups?: readonly string[];
}

export interface EksRunbookAccessProps extends EksStepAccessOptions {
  /** The clusters, each with the namespaces the step may act in (`eksClusters`). */
  readonly clusters: readonly EksClusterAccess[];
}

/**
 * Gives a runbook step that talks to Kubernetes its own IAM role and its way into each cluster: an
 * EKS access entry (type STANDARD) with the step's access policy scoped to the cluster's namespaces, plus
 * `eks:DescribeCluster` on exactly the configured clusters (the endpoint and CA the client needs). One per
 * step, so a step that only reads cannot write. Logs and X-Ray are granted by the step's `RunbookFunction`;
 * the runbook attaches the step's other AWS permissions to `role`. Call `createEntriesAfter(fn)` with the
 * function that runs as the role.
 */
export class EksRunbookAccess extends Construct {
  /** The role the step's Lambda runs as. */
  public readonly role: Role;
  /** One access entry per configured cluster, in configuration order. */
  public readonly accessEntries: CfnAccessEntry[];
  /** The clusters and namespaces the role has access to. */
  public readonly clusters: EksClusterAccess[];
  /** The access level, and so the access policy, of every entry. */
  public readonly accessLevel: EksAccessLevel;
  private ordered = false;

  constructor(scope: Construct, id: string, props: EksRunbookAccessProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.accessLevel = props.accessLevel;
    this.clusters = props.clusters.map(({ name, namespaces }) => ({ name, namespaces: [...namespaces] }));
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        "Added by active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords define no resource types (Service Authorization Reference), so they cannot be scoped. The step's own grants are scoped.",
    });

    if (this.clusters.length > 0) {
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['eks:DescribeCluster'],
          resources: this.clusters.map((cluster) =>
            stack.formatArn({ service: 'eks', resource: 'cluster', resourceName: cluster.name }),
          ),
        }),
      );
    }

    const policyArn = `arn:${stack.partition}:eks::aws:cluster-access-policy/${accessPolicies[props.accessLevel]}`;
    this.accessEntries = this.clusters.map(
      (cluster) =>
        new CfnAccessEntry(this, `AccessEntry-${cluster.name}`, {
          clusterName: cluster.name,
          principalArn: this.role.roleArn,
          type: 'STANDARD',
          ...(props.kubernetesGroups && { kubernetesGroups: [...props.kubernetesGroups] }),
          accessPolicies: [
            { policyArn, accessScope: { type: 'namespace', namespaces: [...cluster.namespaces] } },
          ],
        }),
    );
    // A forgotten createEntriesAfter fails synth rather than the first deploy.
    this.node.addValidation({
      validate: () =>
        this.ordered || this.accessEntries.length === 0
          ? []
          : [`${this.node.path}: call createEntriesAfter(fn) with the function that runs as its role`],
    });
  }

  /**
   * Creates the access entries only once `fn`, the Lambda function that runs as the role, exists. EKS can
   * refuse an access entry for a role IAM has not propagated yet, and nothing in CloudFormation waits for
   * that; Lambda's CreateFunction checks that it can assume the role, and CloudFormation retries it while
   * the role propagates, so a created function proves the role is usable.
   */
  public createEntriesAfter(fn: IConstruct): void {
    const resource = fn.node.defaultChild ?? fn;
    for (const entry of this.accessEntries) entry.node.addDependency(resource);
    this.ordered = true;
  }
}
