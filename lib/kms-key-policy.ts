import { AnyPrincipal, Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Key } from 'aws-cdk-lib/aws-kms';

/**
 * Denies `kms:CreateGrant` unless an AWS service asks for a grant on one of its resources (CT.KMS.PR.3): the
 * services that use the stack's keys (SNS, CloudWatch Logs) create their own grants, and nobody else should
 * be able to hand the key's use on. The exact shape is the Control Tower rule's (BoolIfExists, both keys
 * "false").
 */
export function restrictGrantsToAwsServices(key: Key): void {
  key.addToResourcePolicy(
    new PolicyStatement({
      sid: 'DenyGrantsExceptForAwsServices',
      effect: Effect.DENY,
      principals: [new AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: {
        BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
      },
    }),
  );
}
