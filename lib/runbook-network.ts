import { Stack, Validations } from 'aws-cdk-lib';
import {
  GatewayVpcEndpoint,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpoint,
  InterfaceVpcEndpointAwsService,
  type ISecurityGroup,
  type ISubnet,
  type IVpc,
  Peer,
  Port,
  SecurityGroup,
  Subnet,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { type IRole, Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { AwsServicePeer, FunctionPeer } from '../lambdas/shared/function-table';
import { type NetworkSettings, networkPlacement } from './config/network';
import type { EksCluster } from './config/shared';
import { nagResource } from './nag-resource';

export interface RunbookNetworkProps {
  /** Short environment name, in the security groups' descriptions. */
  readonly environment: string;
  /** The `network` section: VPC, subnets, security groups, internet access, endpoints. */
  readonly settings: NetworkSettings;
  /** The clusters; those with a `securityGroupId` get an ingress rule from the Lambdas on 443. */
  readonly clusters: EksCluster[];
}

/** What a Lambda placed in the VPC is given: `NodejsFunction`'s `vpc`, `vpcSubnets` and `securityGroups`. */
export interface FunctionVpcPlacement {
  readonly vpc: IVpc;
  readonly subnets: ISubnet[];
  readonly securityGroups: ISecurityGroup[];
}

/** Every Lambda has active tracing: one in the VPC also sends its traces to X-Ray from there. */
const TRACING_ENDPOINT = 'xray';
/**
 * Services with no endpoint to create in every region (IAM is global; the Price List API answers in
 * us-east-1, eu-central-1 and ap-south-1 only): a function that calls them needs a route out.
 */
const GLOBAL_SERVICES = new Set<AwsServicePeer>(['iam', 'pricing']);
/** Services reached through a gateway endpoint on the route tables (free), not an interface endpoint. */
const GATEWAY_SERVICES: Record<string, GatewayVpcEndpointAwsService> = {
  dynamodb: GatewayVpcEndpointAwsService.DYNAMODB,
  s3: GatewayVpcEndpointAwsService.S3,
};

/**
 * The VPC placement of the runbooks' Lambdas, from ids in the configuration (no lookups: synth needs no
 * credentials): the imported VPC and subnets, the Lambdas' security groups (the configured ones, or one the
 * stack creates whose only rule is egress on 443, to anywhere with internet access, else to the VPC's CIDR),
 * an ingress rule on each configured cluster security group, the ENI permissions of every role whose
 * function runs in the VPC and, with `createEndpoints`, the VPC endpoints those functions need.
 */
export class RunbookNetwork extends Construct {
  public readonly vpc: IVpc;
  public readonly subnets: ISubnet[];
  /** The security groups every VPC-placed Lambda gets. */
  public readonly securityGroups: ISecurityGroup[];
  /** The group the stack created for the Lambdas; undefined when the configuration names its own. */
  public readonly functionSecurityGroup?: SecurityGroup;
  /** The ENI permissions Lambda needs to place a function in the VPC, attached to each such role. */
  public readonly networkInterfacePolicy: Policy;
  /** Interface endpoints by service name (`eks`, `monitoring`…), after `createEndpoints`. */
  public readonly interfaceEndpoints = new Map<string, InterfaceVpcEndpoint>();
  /** The DynamoDB gateway endpoint, after `createEndpoints`, when a VPC-placed Lambda uses DynamoDB. */
  public gatewayEndpoint?: GatewayVpcEndpoint;
  /** Gateway endpoints by service name (`dynamodb`, `s3`), after `createEndpoints`. */
  public readonly gatewayEndpoints = new Map<string, GatewayVpcEndpoint>();
  /** The group of the interface endpoints: ingress on 443 from the Lambdas' groups only. */
  public endpointSecurityGroup?: SecurityGroup;

  private readonly settings: NetworkSettings;
  private readonly environment: string;
  /** `ec2:CreateNetworkInterface`, scoped to the subnets and the security groups a function may be given. */
  private readonly createInterfaces: PolicyStatement;
  private readonly allowedGroups = new Set<ISecurityGroup>();
  private readonly peers = new Set<FunctionPeer>();
  private readonly roles = new Set<IRole>();
  private endpointsCreated = false;

  constructor(scope: Construct, id: string, props: RunbookNetworkProps) {
    super(scope, id);
    const { settings, environment } = props;
    this.settings = settings;
    this.environment = environment;
    const stack = Stack.of(this);

    this.vpc = Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: settings.vpcId,
      availabilityZones: [...new Set(settings.subnets.map((subnet) => subnet.availabilityZone))],
      ...(settings.vpcCidr !== undefined && { vpcCidrBlock: settings.vpcCidr }),
    });
    this.subnets = settings.subnets.map((subnet) =>
      Subnet.fromSubnetAttributes(this, `Subnet-${subnet.id}`, {
        subnetId: subnet.id,
        availabilityZone: subnet.availabilityZone,
        ...(subnet.routeTableId !== undefined && { routeTableId: subnet.routeTableId }),
      }),
    );

    if (settings.securityGroupIds !== undefined) {
      // The team's own groups: their rules are theirs, the stack adds none to them.
      this.securityGroups = settings.securityGroupIds.map((groupId) =>
        SecurityGroup.fromSecurityGroupId(this, `SecurityGroup-${groupId}`, groupId, { mutable: false }),
      );
    } else {
      const group = new SecurityGroup(this, 'FunctionSecurityGroup', {
        vpc: this.vpc,
        description: `platform-runbooks Lambdas (${environment}): HTTPS out only`,
        allowAllOutbound: false,
      });
      // Everything the Lambdas call is HTTPS: AWS APIs, the Kubernetes API servers, Slack.
      if (settings.internetAccess) {
        group.addEgressRule(
          Peer.anyIpv4(),
          Port.tcp(443),
          'HTTPS to AWS APIs, the EKS API servers and Slack',
        );
      } else {
        // checkNetworkSection requires vpcCidr in this case.
        group.addEgressRule(
          Peer.ipv4(settings.vpcCidr ?? ''),
          Port.tcp(443),
          'HTTPS inside the VPC only: VPC endpoints and the EKS private endpoints',
        );
      }
      this.functionSecurityGroup = group;
      this.securityGroups = [group];
    }

    for (const cluster of props.clusters) {
      if (cluster.securityGroupId === undefined) continue;
      const clusterGroup = SecurityGroup.fromSecurityGroupId(
        this,
        `ClusterSecurityGroup-${cluster.name}`,
        cluster.securityGroupId,
        { mutable: true, allowAllOutbound: true },
      );
      for (const group of this.securityGroups) {
        clusterGroup.addIngressRule(
          group,
          Port.tcp(443),
          `platform-runbooks Lambdas (${environment}) to the ${cluster.name} API server`,
        );
      }
    }

    const ec2Arn = (resource: string, resourceName: string): string =>
      stack.formatArn({ service: 'ec2', resource, resourceName });
    const interfaces = ec2Arn('network-interface', '*');
    this.createInterfaces = new PolicyStatement({
      sid: 'CreateInterfacesInTheRunbookSubnets',
      actions: ['ec2:CreateNetworkInterface'],
      resources: [interfaces, ...settings.subnets.map((subnet) => ec2Arn('subnet', subnet.id))],
    });
    for (const group of this.securityGroups) this.allowSecurityGroup(group);
    this.networkInterfacePolicy = new Policy(this, 'NetworkInterfacePolicy', {
      statements: [
        this.createInterfaces,
        new PolicyStatement({
          sid: 'ManageTheInterfaces',
          actions: [
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: [interfaces],
        }),
        new PolicyStatement({
          sid: 'DescribeInterfaces',
          actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
          resources: ['*'],
        }),
      ],
    });
    Validations.of(this.networkInterfacePolicy).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'ec2:DescribeNetworkInterfaces and ec2:DescribeSubnets support no resource-level permissions (Lambda developer guide, "Giving Lambda functions access to a VPC": they work only on Resource "*"); both only read.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::${nagResource(this, interfaces)}]`,
        reason:
          'Lambda names the network interfaces (Hyperplane ENIs) itself when it places the function, so their ids cannot be known here; creation is limited to the configured subnets and security groups, and the ARN to this account and region.',
      },
    );
  }

  /**
   * Where a Lambda that reaches `reaches` runs: in the VPC (its role gets the ENI permissions, its peers
   * join the endpoint list), or outside it (undefined) when it needs the internet and the subnets have none.
   */
  placementFor(reaches: readonly FunctionPeer[], role: IRole): FunctionVpcPlacement | undefined {
    if (networkPlacement(this.settings, reaches) === 'outside-vpc') return undefined;
    if (this.endpointsCreated) {
      throw new Error(
        'RunbookNetwork.placementFor was called after createEndpoints: create every function first',
      );
    }
    for (const peer of reaches) this.peers.add(peer);
    if (!this.roles.has(role)) {
      this.roles.add(role);
      this.networkInterfacePolicy.attachToRole(role);
    }
    return { vpc: this.vpc, subnets: this.subnets, securityGroups: this.securityGroups };
  }

  /**
   * Lets the VPC-placed functions' roles create network interfaces in `group` too: for a security group one
   * function gets besides the shared ones (`RunbookFunctionProps.securityGroups`). The ENI permission names
   * each group, so a role cannot attach an interface to any other.
   */
  allowSecurityGroup(group: ISecurityGroup): void {
    if (this.allowedGroups.has(group)) return;
    this.allowedGroups.add(group);
    this.createInterfaces.addResources(
      Stack.of(this).formatArn({
        service: 'ec2',
        resource: 'security-group',
        resourceName: group.securityGroupId,
      }),
    );
  }

  /** The VPC endpoint services the VPC-placed Lambdas need, in a stable order. */
  endpointServices(): string[] {
    const services = [...this.peers].filter(
      (peer): peer is AwsServicePeer =>
        peer !== 'kubernetes' &&
        peer !== 'database' &&
        peer !== 'internet' &&
        !GLOBAL_SERVICES.has(peer as AwsServicePeer),
    );
    return [...new Set([...services, ...(this.roles.size > 0 ? [TRACING_ENDPOINT] : [])])].sort();
  }

  /**
   * With `createEndpoints`, creates the endpoints of `endpointServices()`: a gateway endpoint for DynamoDB
   * on the subnets' route tables, interface endpoints with private DNS for the others, in a security group
   * that admits only the Lambdas' groups on 443. The stack calls it once every function exists.
   */
  createEndpoints(): void {
    this.endpointsCreated = true;
    if (!this.settings.createEndpoints) return;
    const services = this.endpointServices();
    for (const service of services.filter((name) => name in GATEWAY_SERVICES)) {
      const endpoint = new GatewayVpcEndpoint(
        this,
        service === 'dynamodb' ? 'DynamoDbEndpoint' : 'S3Endpoint',
        {
          vpc: this.vpc,
          service: GATEWAY_SERVICES[service] as GatewayVpcEndpointAwsService,
          subnets: [{ subnets: this.subnets }],
        },
      );
      this.gatewayEndpoints.set(service, endpoint);
      if (service === 'dynamodb') this.gatewayEndpoint = endpoint;
    }
    const interfaceServices = services.filter((service) => !(service in GATEWAY_SERVICES));
    if (interfaceServices.length === 0) return;
    const endpointGroup = new SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: `platform-runbooks VPC endpoints (${this.environment}): HTTPS from the runbook Lambdas`,
      allowAllOutbound: false,
    });
    for (const group of this.securityGroups) {
      endpointGroup.addIngressRule(group, Port.tcp(443), 'HTTPS from the platform-runbooks Lambdas');
    }
    this.endpointSecurityGroup = endpointGroup;
    for (const service of interfaceServices) {
      this.interfaceEndpoints.set(
        service,
        new InterfaceVpcEndpoint(this, `Endpoint-${service}`, {
          vpc: this.vpc,
          service: new InterfaceVpcEndpointAwsService(service),
          subnets: { subnets: this.subnets },
          securityGroups: [endpointGroup],
          privateDnsEnabled: true,
          // Ingress comes from the Lambdas' groups above, not from the whole VPC.
          open: false,
        }),
      );
    }
  }
}
