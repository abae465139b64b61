import { Validations } from 'aws-cdk-lib';
import { Policy, type PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { nagResource } from './nag-resource';

// The IAM pieces every runbook construct builds its steps from: one role per Lambda, its own policy, and
// cdk-nag acknowledgements that name the resource they are about.

/** Why active tracing's grant on Resource "*" is acknowledged on every Lambda role. */
export const XRAY_REASON =
  'xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing) define no resource types, so they cannot be scoped.';

/**
 * A Lambda step's own role, `<description> (<environment>)`, with active tracing's Resource "*" acknowledged:
 * the step's grants come from its own policy.
 */
export function stepRole(scope: Construct, id: string, description: string, environment: string): Role {
  const role = new Role(scope, id, {
    assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    description: `${description} (${environment})`,
  });
  Validations.of(role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: XRAY_REASON });
  return role;
}

/** A policy of `statements` attached to `role`; the step's function should depend on it. */
export function stepPolicy(scope: Construct, id: string, role: Role, statements: PolicyStatement[]): Policy {
  const policy = new Policy(scope, id, { statements });
  policy.attachToRole(role);
  return policy;
}

/** Acknowledges cdk-nag's wildcard finding on `resource` of `policyOrRole`, with the reason it is as narrow as it can be. */
export function acknowledgeResource(policyOrRole: Construct, resource: string, reason: string): void {
  Validations.of(policyOrRole).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${nagResource(policyOrRole, resource)}]`,
    reason,
  });
}
