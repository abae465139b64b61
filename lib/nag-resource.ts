import { Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * A resource as cdk-nag names it in a finding id (`AwsSolutions-IAM5[Resource::…]`): tokens resolved and
 * flattened (`<Logical.Arn>`, `<AWS::Region>`), so an acknowledgement names exactly one wildcard.
 */
export function nagResource(scope: IConstruct, value: string): string {
  const flatten = (node: unknown): string => {
    if (typeof node === 'string') return node;
    if (Array.isArray(node)) return node.map(flatten).join('');
    if (node !== null && typeof node === 'object') {
      const record = node as Record<string, unknown>;
      if ('Fn::Join' in record) {
        const [delimiter, parts] = record['Fn::Join'] as [string, unknown[]];
        return parts.map(flatten).join(delimiter);
      }
      if ('Fn::GetAtt' in record) {
        const [resource, attribute] = record['Fn::GetAtt'] as [string, string];
        return `<${resource}.${attribute}>`;
      }
      if ('Ref' in record) return `<${String(record['Ref'])}>`;
    }
    return JSON.stringify(node);
  };
  return flatten(Stack.of(scope).resolve(value));
}
