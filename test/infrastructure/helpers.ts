import type { CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { Synthesized } from './synth';

/** The logical id of the construct's CloudFormation resource. */
export function idOf(synthesized: Synthesized, construct: IConstruct): string {
  const resource = (construct.node.defaultChild ?? construct) as CfnElement;
  return synthesized.stack.getLogicalId(resource);
}

export const ref = (id: string) => ({ Ref: id });
export const arnOf = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

/** An ARN in this (environment-agnostic) stack's account, region and partition, as CDK renders it. */
export function localArn(service: string, resource: string): unknown {
  return {
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        `:${service}:`,
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        `:${resource}`,
      ],
    ],
  };
}

export const alarmArn = (name: string) => localArn('cloudwatch', `alarm:${name}`);

/** The value, or a test failure naming what was missing. */
export function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is missing`);
  return value;
}
