import { describe, expect, it } from 'vitest';
import { certificateFunctions } from '../../lambdas/certificates/functions';
import { notifySlackFunction } from '../../lambdas/notify/functions';
import { rightsizingFunctions } from '../../lambdas/rightsizing/functions';
import { rollbackFunctions } from '../../lambdas/rollback/functions';
import type { FunctionPeer, RunbookFunctionEntry } from '../../lambdas/shared/function-table';
import { idOf, present } from './helpers';
import {
  exampleConfig,
  functionEntries,
  STATE_MACHINE_COUNT,
  synth,
  type Synthesized,
  vpcExampleConfig,
} from './synth';

const SUBNETS = ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'];
const CLUSTER_GROUP = 'sg-0c1a2b3c4d5e6f789';
const ownGroups = ['sg-0aaaaaaaaaaaaaaa1', 'sg-0bbbbbbbbbbbbbbb2'];

/**
 * The VPC example without its restore tests and its canary: the placement every runbook shares. The restore
 * test's own security groups, its ENI permission and its RDS endpoint are asserted in restore-test.test.ts, the
 * canary's placement in canary.test.ts.
 */
function vpcExample(): Record<string, unknown> {
  const raw = vpcExampleConfig();
  delete raw.restoreTests;
  delete raw.canary;
  return raw;
}

/** That example with its `network` section changed. */
function withNetwork(network: Record<string, unknown>): Record<string, unknown> {
  const raw = vpcExample();
  return { ...raw, network: { ...(raw.network as Record<string, unknown>), ...network } };
}

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
  DependsOn?: string[];
}

const resources = (synthesized: Synthesized, type: string): Record<string, Resource> =>
  synthesized.template.findResources(type) as Record<string, Resource>;

const functionsByService = (synthesized: Synthesized): Map<string, Resource> =>
  new Map(
    Object.values(resources(synthesized, 'AWS::Lambda::Function')).map((fn) => {
      const variables = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
      return [present(variables.POWERTOOLS_SERVICE_NAME, 'POWERTOOLS_SERVICE_NAME'), fn];
    }),
  );

const placementOf = (fn: Resource): string | undefined =>
  (fn.Properties.Environment as { Variables: Record<string, string> }).Variables.NETWORK_PLACEMENT;

/** Every ingress rule as port, target group and source group. */
const ingressRules = (synthesized: Synthesized) =>
  Object.values(resources(synthesized, 'AWS::EC2::SecurityGroupIngress')).map(({ Properties: rule }) => ({
    to: rule.GroupId,
    from: rule.SourceSecurityGroupId,
    protocol: rule.IpProtocol,
    ports: [rule.FromPort, rule.ToPort],
  }));

/** The VPC endpoints as service suffix → type. */
const endpoints = (synthesized: Synthesized): Record<string, string> =>
  Object.fromEntries(
    Object.values(resources(synthesized, 'AWS::EC2::VPCEndpoint')).map(({ Properties: endpoint }) => {
      const name = JSON.stringify(endpoint.ServiceName).match(/\.([a-z0-9-]+)"\]\]\}$/)?.[1] ?? '?';
      return [name, endpoint.VpcEndpointType as string];
    }),
  );

/** Peers reached without an endpoint of this region: the clusters' API servers, the internet, and the Price List API. */
const NO_ENDPOINT = new Set<FunctionPeer>(['kubernetes', 'internet', 'pricing']);
const rightsizingEntries: readonly RunbookFunctionEntry[] = Object.values(rightsizingFunctions);

/**
 * The endpoints the right-sizing report's VPC-placed steps need, as service → type: the AWS services of their
 * function table's `reaches`, S3 through a gateway endpoint. `inVpc`: whether a step reaching the internet
 * is placed (the subnets reach it).
 */
const rightsizingEndpoints = (inVpc: { internet: boolean }): Record<string, string> =>
  Object.fromEntries(
    rightsizingEntries
      .filter((entry) => inVpc.internet || !entry.reaches.includes('internet'))
      .flatMap((entry) => entry.reaches)
      .filter((peer) => !NO_ENDPOINT.has(peer))
      .map((service) => [service, service === 's3' ? 'Gateway' : 'Interface']),
  );

describe('VPC placement', () => {
  describe('with the private-cluster example (NAT, the stack makes the group, endpoints created)', () => {
    const synthesized = synth(vpcExample());
    const network = present(synthesized.stack.network, 'the network');
    const functionGroup = idOf(synthesized, present(network.functionSecurityGroup, 'the function group'));
    const endpointGroup = idOf(synthesized, present(network.endpointSecurityGroup, 'the endpoint group'));
    const groupId = (id: string) => ({ 'Fn::GetAtt': [id, 'GroupId'] });

    it('places every Lambda in the configured subnets with the stack-made group', () => {
      const functions = [...functionsByService(synthesized).values()];
      // The notifier, the rollback's and the right-sizing report's (the NAT reaches the Price List API).
      expect(functions).toHaveLength(
        [notifySlackFunction, ...Object.values(rollbackFunctions), ...rightsizingEntries].length,
      );
      for (const fn of functions) {
        expect(fn.Properties.VpcConfig).toEqual({
          SubnetIds: SUBNETS,
          SecurityGroupIds: [groupId(functionGroup)],
        });
        expect(placementOf(fn)).toBe('vpc');
      }
    });

    it("gives the Lambdas' group HTTPS out and nothing in", () => {
      const group = present(resources(synthesized, 'AWS::EC2::SecurityGroup')[functionGroup], 'group');
      expect(group.Properties.VpcId).toBe('vpc-0123456789abcdef0');
      expect(group.Properties.SecurityGroupEgress).toEqual([
        expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
      ]);
      expect(group.Properties.SecurityGroupIngress).toBeUndefined();
    });

    it('adds exactly two ingress rules: the cluster and the endpoints admit the Lambdas on 443', () => {
      expect(ingressRules(synthesized)).toEqual(
        expect.arrayContaining([
          { to: CLUSTER_GROUP, from: groupId(functionGroup), protocol: 'tcp', ports: [443, 443] },
          { to: groupId(endpointGroup), from: groupId(functionGroup), protocol: 'tcp', ports: [443, 443] },
        ]),
      );
      expect(ingressRules(synthesized)).toHaveLength(2);
    });

    it('creates the endpoints the placed Lambdas reach, and X-Ray for their traces', () => {
      expect(endpoints(synthesized)).toEqual({
        dynamodb: 'Gateway',
        eks: 'Interface',
        monitoring: 'Interface',
        secretsmanager: 'Interface',
        // prepare asks Step Functions whether a lock holder's execution still runs.
        states: 'Interface',
        xray: 'Interface',
        // The right-sizing report's steps: Compute Optimizer, EC2, RDS, CloudWatch, their parts in the
        // reports bucket. The Price List API answers in three regions only: through the NAT.
        ...rightsizingEndpoints({ internet: true }),
      });
      expect(Object.keys(endpoints(synthesized))).toEqual(
        expect.arrayContaining(['compute-optimizer', 'ec2', 'rds', 's3']),
      );
      expect(Object.keys(endpoints(synthesized))).not.toContain('pricing');
      for (const endpoint of Object.values(resources(synthesized, 'AWS::EC2::VPCEndpoint'))) {
        if (endpoint.Properties.VpcEndpointType === 'Gateway') {
          expect(endpoint.Properties.RouteTableIds).toEqual([
            'rtb-0aaaaaaaaaaaaaaa1',
            'rtb-0bbbbbbbbbbbbbbb2',
          ]);
        } else {
          expect(endpoint.Properties).toMatchObject({
            PrivateDnsEnabled: true,
            SubnetIds: SUBNETS,
            SecurityGroupIds: [groupId(endpointGroup)],
          });
        }
      }
    });

    it("grants the ENI permissions to each placed function's role, before the function exists", () => {
      const policyId = idOf(synthesized, network.networkInterfacePolicy);
      const policy = present(resources(synthesized, 'AWS::IAM::Policy')[policyId], 'the ENI policy');
      const roles = (policy.Properties.Roles as { Ref: string }[]).map((role) => role.Ref).sort();
      const { rollback } = synthesized;
      const rightsizing = present(synthesized.stack.rightsizing, 'the right-sizing report');
      expect(roles).toEqual(
        [
          idOf(synthesized, rollback.prepareAccess.role),
          idOf(synthesized, rollback.undoAccess.role),
          idOf(synthesized, rollback.rolloutStatusAccess.role),
          idOf(synthesized, rollback.alarmStatusRole),
          idOf(synthesized, synthesized.stack.slackNotifier.role),
          idOf(synthesized, rightsizing.workloadsAccess.role),
          idOf(synthesized, rightsizing.collectComputeRole),
          idOf(synthesized, rightsizing.reportRole),
        ].sort(),
      );
      for (const fn of Object.values(resources(synthesized, 'AWS::Lambda::Function'))) {
        expect(fn.DependsOn).toContain(policyId);
      }
    });
  });

  describe('without internet access', () => {
    const synthesized = synth(withNetwork({ internetAccess: false, vpcCidr: '10.20.0.0/16' }));
    const network = present(synthesized.stack.network, 'the network');

    it('bounds egress to the VPC', () => {
      const groupId = idOf(synthesized, present(network.functionSecurityGroup, 'group'));
      const group = present(resources(synthesized, 'AWS::EC2::SecurityGroup')[groupId], 'group');
      expect(group.Properties.SecurityGroupEgress).toEqual([
        expect.objectContaining({ CidrIp: '10.20.0.0/16', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
      ]);
    });

    it('keeps the Slack notifier and the right-sizing report step (Price List API) outside the VPC, and only them', () => {
      const functions = functionsByService(synthesized);
      const outside: RunbookFunctionEntry[] = [notifySlackFunction, rightsizingFunctions.report];
      for (const entry of outside) {
        const fn = present(functions.get(entry.serviceName), entry.serviceName);
        expect(fn.Properties.VpcConfig, entry.serviceName).toBeUndefined();
        expect(placementOf(fn), entry.serviceName).toBe('outside-vpc');
      }
      const inside = [...Object.values(rollbackFunctions), ...rightsizingEntries].filter(
        (entry) => !outside.includes(entry),
      );
      for (const entry of inside) {
        const fn = present(functions.get(entry.serviceName), entry.serviceName);
        expect(fn.Properties.VpcConfig, entry.serviceName).toBeDefined();
        expect(placementOf(fn), entry.serviceName).toBe('vpc');
      }
      expect(functions.size).toBe(outside.length + inside.length);
    });

    it('creates no Secrets Manager endpoint, since only the notifier reads a secret', () => {
      expect(Object.keys(endpoints(synthesized)).sort()).toEqual(
        [
          ...new Set([
            'dynamodb',
            'eks',
            'monitoring',
            'states',
            'xray',
            // The right-sizing collectors' (its report step runs outside, for the Price List API).
            ...Object.keys(rightsizingEndpoints({ internet: false })),
          ]),
        ].sort(),
      );
      expect(Object.keys(endpoints(synthesized))).not.toContain('secretsmanager');
    });
  });

  describe('without internet access, with the certificate check', () => {
    const synthesized = synth({
      ...withNetwork({ internetAccess: false, vpcCidr: '10.20.0.0/16' }),
      certificates: exampleConfig().certificates,
    });

    it('keeps outside the VPC exactly the functions that reach the internet (reaches), the others in it', () => {
      const functions = functionsByService(synthesized);
      const deployed: RunbookFunctionEntry[] = [
        notifySlackFunction,
        ...Object.values(rollbackFunctions),
        ...Object.values(certificateFunctions),
        ...rightsizingEntries,
      ];
      expect(functions.size).toBe(deployed.length);
      const outside = deployed.filter((entry) => entry.reaches.includes('internet'));
      // Today the notifier (Slack), the AWS collector (ACM in other regions, IAM), the prober and the
      // right-sizing report step (the Price List API): the certificate check has functions on both sides.
      expect(outside.some((entry) => entry.serviceName.startsWith('certificates-'))).toBe(true);
      expect(
        deployed.some((entry) => entry.serviceName.startsWith('certificates-') && !outside.includes(entry)),
      ).toBe(true);
      for (const entry of deployed) {
        const fn = present(functions.get(entry.serviceName), entry.serviceName);
        const inVpc = !outside.includes(entry);
        expect(fn.Properties.VpcConfig === undefined, entry.serviceName).toBe(!inVpc);
        expect(placementOf(fn), entry.serviceName).toBe(inVpc ? 'vpc' : 'outside-vpc');
      }
    });
  });

  describe("with the team's own security groups and no endpoints", () => {
    const synthesized = synth(withNetwork({ securityGroupIds: ownGroups, createEndpoints: false }));

    it('uses those groups, creates none and changes none of their rules', () => {
      for (const fn of functionsByService(synthesized).values()) {
        expect(fn.Properties.VpcConfig).toEqual({ SubnetIds: SUBNETS, SecurityGroupIds: ownGroups });
      }
      synthesized.template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
      synthesized.template.resourceCountIs('AWS::EC2::SecurityGroupEgress', 0);
      synthesized.template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    });

    it('lets each of them reach the cluster on 443', () => {
      expect(ingressRules(synthesized)).toEqual(
        ownGroups.map((from) => ({ to: CLUSTER_GROUP, from, protocol: 'tcp', ports: [443, 443] })),
      );
    });
  });

  describe('without a network section', () => {
    const synthesized = synth(exampleConfig());

    it('changes nothing: no VPC configuration, no EC2 resource, no ENI permission', () => {
      expect(synthesized.stack.network).toBeUndefined();
      for (const fn of functionsByService(synthesized).values()) {
        expect(fn.Properties.VpcConfig).toBeUndefined();
        expect(placementOf(fn)).toBe('outside-vpc');
      }
      const ec2 = Object.values(synthesized.template.toJSON().Resources as Record<string, Resource>).filter(
        (resource) => resource.Type.startsWith('AWS::EC2::'),
      );
      expect(ec2).toEqual([]);
      expect(JSON.stringify(synthesized.template.toJSON())).not.toContain('ec2:CreateNetworkInterface');
    });
  });
});

describe('the keys', () => {
  const synthesized = synth();
  const keys = resources(synthesized, 'AWS::KMS::Key');

  it('are three (logs, on-call, reports), all rotated, and all deny grants to anything but AWS services (CT.KMS.PR.3)', () => {
    expect(Object.keys(keys).sort()).toEqual(
      [
        idOf(synthesized, synthesized.stack.logs.key),
        idOf(synthesized, present(synthesized.stack.onCall.key, 'the on-call key')),
        idOf(synthesized, present(synthesized.stack.certificates, 'the certificate check').reports.key),
      ].sort(),
    );
    for (const key of Object.values(keys)) {
      expect(key.Properties.EnableKeyRotation).toBe(true);
      expect((key.Properties.KeyPolicy as { Statement: unknown[] }).Statement).toContainEqual({
        Sid: 'DenyGrantsExceptForAwsServices',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'kms:CreateGrant',
        Resource: '*',
        Condition: {
          BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
        },
      });
    }
  });

  it("let CloudWatch Logs use the logs key for this account's log groups only", () => {
    const logsKey = present(keys[idOf(synthesized, synthesized.stack.logs.key)], 'the logs key');
    const statements = (logsKey.Properties.KeyPolicy as { Statement: Record<string, unknown>[] }).Statement;
    const logs = present(
      statements.find((statement) => statement.Sid === 'AllowCloudWatchLogsForThisAccountsLogGroups'),
      'the CloudWatch Logs statement',
    );
    expect(JSON.stringify(logs.Principal)).toContain('.amazonaws.com');
    expect(JSON.stringify(logs.Condition)).toMatch(/kms:EncryptionContext:aws:logs:arn.*:log-group:\*/);
  });

  it('every log group is encrypted with the logs key', () => {
    const logsKey = idOf(synthesized, synthesized.stack.logs.key);
    const logGroups = Object.values(resources(synthesized, 'AWS::Logs::LogGroup'));
    // One per Lambda (the notifier and each function table entry) and one per state machine.
    expect(logGroups).toHaveLength(functionEntries.length + STATE_MACHINE_COUNT);
    for (const group of logGroups) {
      expect(group.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [logsKey, 'Arn'] });
    }
  });
});

describe('the dead-letter queue', () => {
  it('is declared a dead-letter queue, as CT.SQS.PR.1 asks of a queue without one of its own', () => {
    const synthesized = synth();
    const queue = synthesized.template.toJSON().Resources[
      idOf(synthesized, present(synthesized.rollback.workflow.deadLetterQueue, 'queue'))
    ] as Resource;
    expect(queue.Properties.RedriveAllowPolicy).toEqual({ redrivePermission: 'allowAll' });
  });
});
