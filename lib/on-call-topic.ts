import { Stack } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { restrictGrantsToAwsServices } from './kms-key-policy';

export interface OnCallTopicProps {
  /** Short environment name, used in the topic's and key's names. */
  readonly environment: string;
  /**
   * Page through this existing topic (PagerDuty, Opsgenie, Chatbot…) instead of creating one. The stack
   * cannot see its encryption: if it uses a customer managed key, that key's policy must let the runbooks'
   * state machines and CloudWatch alarms use it.
   * @default - a topic is created
   */
  readonly existingTopicArn?: string;
  /**
   * E-mail addresses subscribed to the created topic (each confirms by mail). Ignored with `existingTopicArn`.
   * @default - no subscriptions
   */
  readonly emails?: string[];
}

/**
 * The SNS topic that pages on-call. Created encrypted with a customer managed key (rotated) whose policy
 * lets CloudWatch alarms of this account publish, with SSL enforced; or an existing topic, imported.
 */
export class OnCallTopic extends Construct {
  /** The topic to publish pages to. */
  public readonly topic: ITopic;
  /** The key encrypting the created topic; undefined for an existing topic. Publishers need it too. */
  public readonly key?: Key;

  constructor(scope: Construct, id: string, props: OnCallTopicProps) {
    super(scope, id);
    if (props.existingTopicArn !== undefined) {
      this.topic = Topic.fromTopicArn(this, 'Topic', props.existingTopicArn);
      return;
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
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    restrictGrantsToAwsServices(key);
    const topic = new Topic(this, 'Topic', {
      topicName: `platform-runbooks-${props.environment}-on-call`,
      displayName: `Platform runbooks on-call (${props.environment})`,
      masterKey: key,
      enforceSSL: true,
    });
    for (const email of props.emails ?? []) topic.addSubscription(new EmailSubscription(email));
    this.topic = topic;
    this.key = key;
  }
}
