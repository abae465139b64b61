import { ArnFormat, Stack } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { restrictGrantsToAwsServices } from './kms-key-policy';

export interface OnCallTopicProps {
  /** Short environment name, used in the topic's and key's names. */
  readonly environment: string;
  /**
   * Page through this existing topic (PagerDuty, Opsgenie, Chatbot…) instead of creating one. The stack
   * cannot change its policies: that topic's policy must let CloudWatch alarms of this account publish.
   * @default - a topic is created
   */
  readonly existingTopicArn?: string;
  /**
   * The customer managed key encrypting `existingTopicArn`, if it has one: the state machines get
   * `kms:GenerateDataKey`/`kms:Decrypt` on it. The stack cannot change its key policy, which must let the
   * state machine roles and `cloudwatch.amazonaws.com` use it. Only with `existingTopicArn`.
   * @default - the existing topic is unencrypted or uses the AWS managed key `alias/aws/sns`
   */
  readonly existingTopicKeyArn?: string;
  /**
   * E-mail addresses subscribed to the created topic (each confirms by mail). Ignored with `existingTopicArn`.
   * @default - no subscriptions
   */
  readonly emails?: string[];
}

/**
 * The SNS topic that pages on-call. Created encrypted with a customer managed key (rotated), with SSL
 * enforced, and with a topic policy and key policy that let CloudWatch alarms of this account publish; or
 * an existing topic, imported with its key.
 */
export class OnCallTopic extends Construct {
  /** The topic to publish pages to. */
  public readonly topic: ITopic;
  /**
   * The key encrypting the topic: created, or `existingTopicKeyArn` imported. Publishers need it too.
   * Undefined for an existing topic without a configured key.
   */
  public readonly key?: IKey;

  constructor(scope: Construct, id: string, props: OnCallTopicProps) {
    super(scope, id);
    const stack = Stack.of(this);
    if (props.existingTopicArn !== undefined) {
      this.topic = Topic.fromTopicArn(this, 'Topic', props.existingTopicArn);
      if (props.existingTopicKeyArn !== undefined) {
        this.key = Key.fromKeyArn(this, 'Key', props.existingTopicKeyArn);
      }
      return;
    }
    if (props.existingTopicKeyArn !== undefined) {
      throw new Error('OnCallTopic: existingTopicKeyArn is only valid with existingTopicArn');
    }

    const key = new Key(this, 'Key', {
      description: `Encrypts the platform-runbooks on-call topic (${props.environment})`,
      alias: `alias/platform-runbooks-${props.environment}-on-call`,
      enableKeyRotation: true,
    });
    // Alarm actions publish as the CloudWatch service, which must be able to use the key
    // (SNS developer guide, "compatibility between event sources from AWS services and encrypted topics").
    key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsOfThisAccountToPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    restrictGrantsToAwsServices(key);
    const topic = new Topic(this, 'Topic', {
      topicName: `platform-runbooks-${props.environment}-on-call`,
      displayName: `Platform runbooks on-call (${props.environment})`,
      masterKey: key,
      enforceSSL: true,
    });
    // A topic policy replaces SNS's default one, and enforceSSL's is a lone Deny: without this statement
    // the stack's own alarms could not page. Only alarms of this account and region (confused deputy).
    topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsOfThisAccountToPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    for (const email of props.emails ?? []) topic.addSubscription(new EmailSubscription(email));
    this.topic = topic;
    this.key = key;
  }
}
