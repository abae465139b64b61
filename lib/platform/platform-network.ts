import { RemovalPolicy, Tags, Validations } from 'aws-cdk-lib';
import {
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpoint,
  InterfaceVpcEndpointAwsService,
  IpAddresses,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
  type SubnetSelection,
} from 'aws-cdk-lib/aws-ec2';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { PlatformInterfaceEndpoint } from '../config/platform';

export interface PlatformNetworkProps {
  /** Short environment name, in resource names. */
  readonly environment: string;
  /** The three zones, named (synth looks nothing up). */
  readonly availabilityZones: readonly string[];
  readonly cidr: string;
  /** NAT gateways, 1 to 3: one per zone, or one shared (cheaper, a zone's failure cuts the others' egress). */
  readonly natGateways: number;
  readonly flowLogRetentionDays: number;
  /** Interface endpoints to create; S3 and DynamoDB gateway endpoints are always created. */
  readonly interfaceEndpoints: readonly PlatformInterfaceEndpoint[];
  /** Encrypts the flow log group. */
  readonly logKey: IKey;
}

/** The subnet groups, by name: the logical ids of the subnets follow these names. */
export const SUBNET_GROUPS = {
  public: 'public',
  application: 'application',
  data: 'data',
} as const;

/**
 * The platform's VPC over three named zones, three subnet tiers each:
 * - `public`: the NAT gateways and internet-facing load balancers (tagged `kubernetes.io/role/elb` for EKS
 *   Auto Mode's load balancing), no public IPs assigned on launch;
 * - `application`: EKS nodes and pods, the runbooks' Lambdas and the VPC endpoints; egress through NAT
 *   (tagged `kubernetes.io/role/internal-elb`);
 * - `data`: RDS and ElastiCache, no route out of the VPC.
 * Subnet sizes follow the CIDR: the application tier gets a quarter each (pods take VPC addresses).
 * All traffic is logged (flow logs to an encrypted log group).
 */
export class PlatformNetwork extends Construct {
  public readonly vpc: Vpc;
  public readonly applicationSubnets: SubnetSelection = { subnetGroupName: SUBNET_GROUPS.application };
  public readonly dataSubnets: SubnetSelection = { subnetGroupName: SUBNET_GROUPS.data };
  public readonly flowLogGroup: LogGroup;
  /** Interface endpoints by service name. */
  public readonly interfaceEndpoints = new Map<PlatformInterfaceEndpoint, InterfaceVpcEndpoint>();
  public readonly endpointSecurityGroup?: SecurityGroup;

  constructor(scope: Construct, id: string, props: PlatformNetworkProps) {
    super(scope, id);
    const prefix = Number(props.cidr.split('/')[1]);
    this.vpc = new Vpc(this, 'Vpc', {
      vpcName: `platform-${props.environment}`,
      ipAddresses: IpAddresses.cidr(props.cidr),
      availabilityZones: [...props.availabilityZones],
      natGateways: props.natGateways,
      natGatewaySubnets: { subnetGroupName: SUBNET_GROUPS.public },
      // The largest tier first, so every block is aligned: application /18, data /21, public /22 of a /16.
      subnetConfiguration: [
        { name: SUBNET_GROUPS.application, subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: prefix + 2 },
        { name: SUBNET_GROUPS.data, subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: prefix + 5 },
        {
          name: SUBNET_GROUPS.public,
          subnetType: SubnetType.PUBLIC,
          cidrMask: prefix + 6,
          mapPublicIpOnLaunch: false,
        },
      ],
      // Off: restricting the default group deploys a custom-resource Lambda; nothing here uses that group.
      restrictDefaultSecurityGroup: false,
    });
    for (const subnet of [
      ...this.vpc.publicSubnets,
      ...this.vpc.privateSubnets,
      ...this.vpc.isolatedSubnets,
    ]) {
      Validations.of(subnet).acknowledge({
        id: 'CloudFormation-Validate::W3010',
        reason:
          'The zones are named in the configuration (platform.availabilityZones) on purpose: synth looks nothing up and needs no credentials, and a subnet must not move to another zone when the region gains one.',
      });
    }
    for (const subnet of this.vpc.publicSubnets) Tags.of(subnet).add('kubernetes.io/role/elb', '1');
    for (const subnet of this.vpc.privateSubnets) Tags.of(subnet).add('kubernetes.io/role/internal-elb', '1');

    this.flowLogGroup = new LogGroup(this, 'FlowLogGroup', {
      logGroupName: `/platform/${props.environment}/vpc-flow-logs`,
      retention: props.flowLogRetentionDays as RetentionDays,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: FlowLogDestination.toCloudWatchLogs(this.flowLogGroup),
      trafficType: FlowLogTrafficType.ALL,
    });

    // Free, and they keep S3 and DynamoDB traffic (reports, the lock table) off the NAT gateways.
    const routed = [this.applicationSubnets, this.dataSubnets];
    this.vpc.addGatewayEndpoint('S3Endpoint', { service: GatewayVpcEndpointAwsService.S3, subnets: routed });
    this.vpc.addGatewayEndpoint('DynamoDbEndpoint', {
      service: GatewayVpcEndpointAwsService.DYNAMODB,
      subnets: routed,
    });
    if (props.interfaceEndpoints.length > 0) {
      const group = new SecurityGroup(this, 'EndpointSecurityGroup', {
        vpc: this.vpc,
        description: `platform-${props.environment} VPC endpoints: HTTPS from the VPC`,
        allowAllOutbound: false,
      });
      // The configured CIDR, a literal: the rule reads (and is checked) as what it is.
      group.addIngressRule(Peer.ipv4(props.cidr), Port.tcp(443), 'HTTPS from the VPC');
      this.endpointSecurityGroup = group;
      for (const service of props.interfaceEndpoints) {
        this.interfaceEndpoints.set(
          service,
          new InterfaceVpcEndpoint(this, `Endpoint-${service}`, {
            vpc: this.vpc,
            service: new InterfaceVpcEndpointAwsService(service),
            subnets: this.applicationSubnets,
            securityGroups: [group],
            privateDnsEnabled: true,
            open: false,
          }),
        );
      }
    }
  }
}
