import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
  ListTagsForResourceCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { GetItemCommandInput, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { DescribeClusterCommand, EKSClient, ResourceNotFoundException } from '@aws-sdk/client-eks';
import {
  DescribeExecutionCommand,
  InvalidOutput,
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import dynalite from 'dynalite';
import type { AddressInfo } from 'node:net';
import { SimulatedMetrics } from './simulated-metrics';
import { timelineNow } from './virtual-clock';

export const ACCOUNT = '111122223333';
export const REGION = 'eu-west-1';

type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface SimulatedAlarm {
  name: string;
  type: 'MetricAlarm' | 'CompositeAlarm';
  state: AlarmState;
  updatedAt: Date;
  tags: Record<string, string>;
  /**
   * The state it moves to after `afterReads` more DescribeAlarms calls (the workload recovering), or
   * `DELETED`: someone deletes it then.
   */
  transition?: { to: AlarmState | 'DELETED'; afterReads: number };
}

export interface PublishedEvent {
  at: number;
  detailType: string;
  source: string;
  busName: string;
  detail: Record<string, unknown>;
}
export interface Page {
  at: number;
  topicArn: string;
  subject: string | undefined;
  message: unknown;
}

/** A fault the simulated account answers with, as the SDK would surface it. */
export interface AwsFault {
  service: 'cloudwatch' | 'eks' | 'events' | 'sns' | 'dynamodb';
  operation: string;
  name: string;
  times: number;
  /** `server` faults are retryable 5xx/throttling; `client` faults are 4xx. */
  fault?: 'client' | 'server';
}

/** Who may reach a cluster's API endpoint: DescribeCluster's `resourcesVpcConfig` fields. */
export interface EndpointAccess {
  endpointPublicAccess: boolean;
  endpointPrivateAccess: boolean;
  publicAccessCidrs: string[];
}

/** What EKS creates a cluster with when none is asked for: a public endpoint open to any address. */
export const DEFAULT_ENDPOINT_ACCESS: EndpointAccess = {
  endpointPublicAccess: true,
  endpointPrivateAccess: false,
  publicAccessCidrs: ['0.0.0.0/0'],
};

/** How a callback Task's token was answered, through SendTaskSuccess or SendTaskFailure. */
export type TaskTokenAnswer =
  | { at: number; outcome: 'success'; output: unknown }
  | { at: number; outcome: 'failure'; error: string; cause: string };

/** A task token Step Functions handed out: its Task waits until it is answered or its deadline passes. */
export interface TaskTokenRecord {
  token: string;
  executionArn: string;
  /** The Task state's name. */
  state: string;
  /** When the Task times out, epoch ms on the virtual clock; `Infinity` without a timeout. */
  deadline: number;
  /** `closed`: the Task ended otherwise (its Lambda failed). */
  status: 'open' | 'answered' | 'timed-out' | 'closed';
  answer?: TaskTokenAnswer;
}

/** Step Functions serialises an object Detail or Message to JSON before calling the service. */
const asJson = (value: unknown): unknown =>
  typeof value === 'string' ? (JSON.parse(value) as unknown) : value;

const alarmArn = (name: string) => `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${name}`;

class SimulatedServiceError extends Error {
  constructor(
    name: string,
    readonly $fault: 'client' | 'server',
  ) {
    super(`${name} (simulated)`);
    this.name = name;
  }
}

/**
 * The AWS side of a rehearsal, in one place: DynamoDB is dynalite (a real implementation of the DynamoDB API
 * on loopback, so condition expressions behave as in AWS); CloudWatch (alarms, tags, and GetMetricData from
 * `metrics`), EKS, Secrets Manager and Step Functions (DescribeExecution, and the task-token calls against
 * `taskTokens`) answer from state through aws-sdk-client-mock (one mock per client
 * class: a runbook's rehearsal extends this one rather than mocking CloudWatchClient again); the state machine's own service integrations (EventBridge, SNS,
 * DynamoDB) are served by `serviceIntegration`.
 */
export class SimulatedAccount {
  readonly alarms = new Map<string, SimulatedAlarm>();
  readonly clusters = new Map<string, { endpoint: string; caData: string; status: string }>();
  readonly secrets = new Map<string, string>();
  /** Step Functions' view of each execution: the rehearsal marks its runs; a scenario may add ended ones. */
  readonly executionStatuses = new Map<
    string,
    'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED'
  >();
  readonly events: PublishedEvent[] = [];
  readonly pages: Page[] = [];
  /** Every call, in order; `target` names what it was about where one is named (DescribeCluster's cluster). */
  readonly calls: Array<{ at: number; service: string; operation: string; target?: string }> = [];
  /** CloudWatch's series and its GetMetricData (simulated-metrics.ts): limits, pagination, throttling. */
  readonly metrics = new SimulatedMetrics();
  /** The task tokens of callback Tasks (`.waitForTaskToken`), answered through the SFN client. */
  readonly taskTokens = new Map<string, TaskTokenRecord>();
  private faults: AwsFault[] = [];
  /** A scenario's endpoint settings per cluster, over the default; cleared by `reset`. */
  private endpointAccess = new Map<string, Partial<EndpointAccess>>();
  private mocks: Array<{ restore(): void }> = [];

  private constructor(
    readonly dynamodbEndpoint: string,
    readonly dynamodb: DynamoDBClient,
    private readonly server: { close(callback: () => void): void },
  ) {}

  /** Starts dynalite, creates the lock table and installs the SDK mocks for the other services. */
  static async start(lockTableName: string): Promise<SimulatedAccount> {
    const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dynamodb = new DynamoDBClient({
      endpoint,
      region: REGION,
      credentials: { accessKeyId: 'AKIDTESTTESTTESTTEST', secretAccessKey: 'test-secret-access-key' },
    });
    await dynamodb.send(
      new CreateTableCommand({
        TableName: lockTableName,
        KeySchema: [{ AttributeName: 'workload', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'workload', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const account = new SimulatedAccount(endpoint, dynamodb, server);
    account.installMocks();
    return account;
  }

  addAlarm(alarm: Partial<SimulatedAlarm> & { name: string }): void {
    this.alarms.set(alarm.name, {
      type: 'MetricAlarm',
      state: 'ALARM',
      updatedAt: new Date(),
      tags: {},
      ...alarm,
    });
  }

  /**
   * Changes who may reach a cluster's API endpoint, as `aws eks update-cluster-config --resources-vpc-config`
   * would: `{ endpointPublicAccess: false, endpointPrivateAccess: true }` makes it private-only,
   * `{ publicAccessCidrs: ['203.0.113.0/24'] }` restricts the public endpoint.
   */
  setEndpointAccess(clusterName: string, access: Partial<EndpointAccess>): void {
    if (!this.clusters.has(clusterName))
      throw new Error(`The simulated account has no cluster ${clusterName}`);
    this.endpointAccess.set(clusterName, { ...this.endpointAccess.get(clusterName), ...access });
  }

  injectFault(fault: Omit<AwsFault, 'times'> & { times?: number }): void {
    this.faults.push({ times: 1, ...fault });
  }

  /**
   * A callback Task hands out `token`: from now on SendTaskSuccess and SendTaskFailure accept it, until it
   * is answered, `timeoutSeconds` have passed on the virtual clock, or the Task closes it.
   */
  openTaskToken(
    token: string,
    task: { executionArn: string; state: string; timeoutSeconds?: number },
  ): TaskTokenRecord {
    const record: TaskTokenRecord = {
      token,
      executionArn: task.executionArn,
      state: task.state,
      deadline: task.timeoutSeconds === undefined ? Infinity : Date.now() + task.timeoutSeconds * 1000,
      status: 'open',
    };
    this.taskTokens.set(token, record);
    return record;
  }

  /** The Task ended without an answer: a later answer gets TaskTimedOut, as from Step Functions. */
  closeTaskToken(token: string, status: 'timed-out' | 'closed'): void {
    const record = this.taskTokens.get(token);
    if (record?.status === 'open') record.status = status;
  }

  async readLock(workload: string, tableName: string): Promise<Record<string, string> | undefined> {
    const answer = await this.dynamodb.send(
      new GetItemCommand({ TableName: tableName, Key: { workload: { S: workload } }, ConsistentRead: true }),
    );
    if (!answer.Item) return undefined;
    return Object.fromEntries(
      Object.entries(answer.Item).map(([key, value]) => [key, value.S ?? value.N ?? '']),
    );
  }

  /** Writes a lock item as another runbook (a canary) or an earlier rollback would have left it. */
  async seedLock(
    tableName: string,
    workload: string,
    attributes: Record<string, string | number>,
  ): Promise<void> {
    const item = Object.fromEntries(
      Object.entries(attributes).map(([key, value]) => [
        key,
        typeof value === 'number' ? { N: String(value) } : { S: value },
      ]),
    );
    await this.dynamodb.send(
      new PutItemCommand({ TableName: tableName, Item: { workload: { S: workload }, ...item } }),
    );
  }

  async clearTable(tableName: string): Promise<void> {
    const { Items = [] } = await this.dynamodb.send(new ScanCommand({ TableName: tableName }));
    for (const item of Items) {
      await this.dynamodb.send(
        new DeleteItemCommand({ TableName: tableName, Key: { workload: item.workload ?? { S: '' } } }),
      );
    }
  }

  reset(): void {
    this.alarms.clear();
    this.events.length = 0;
    this.pages.length = 0;
    this.calls.length = 0;
    this.faults = [];
    this.endpointAccess.clear();
    this.metrics.reset();
    this.taskTokens.clear();
  }

  async close(): Promise<void> {
    for (const mock of this.mocks) mock.restore();
    this.dynamodb.destroy();
    await new Promise<void>((resolve) => this.server.close(resolve));
  }

  /**
   * Serves a Task whose Resource is a Step Functions service integration, as Step Functions would:
   * the Parameters are the API input, errors are named `<Service>.<ErrorName>`.
   */
  async serviceIntegration(resource: string, input: Record<string, unknown>): Promise<unknown> {
    switch (resource) {
      case 'arn:aws:states:::events:putEvents':
        return this.putEvents(input);
      case 'arn:aws:states:::sns:publish':
        return this.publish(input);
      case 'arn:aws:states:::dynamodb:updateItem':
        return this.updateItem(input);
      case 'arn:aws:states:::dynamodb:getItem':
        return this.getItem(input);
      default:
        throw new Error(`The simulated account has no integration for ${resource}`);
    }
  }

  private async putEvents(input: Record<string, unknown>): Promise<unknown> {
    this.record('events', 'PutEvents');
    this.throwIfFaulted('events', 'PutEvents', 'EventBridge');
    const entries = input.Entries as Array<{
      Source: string;
      DetailType: string;
      Detail: unknown;
      EventBusName: string;
    }>;
    for (const entry of entries) {
      this.events.push({
        at: timelineNow(),
        detailType: entry.DetailType,
        source: entry.Source,
        busName: entry.EventBusName,
        detail: asJson(entry.Detail) as Record<string, unknown>,
      });
    }
    return {
      FailedEntryCount: 0,
      Entries: entries.map((_, index) => ({ EventId: `event-${this.events.length + index}` })),
    };
  }

  private async publish(input: Record<string, unknown>): Promise<unknown> {
    this.record('sns', 'Publish');
    this.throwIfFaulted('sns', 'Publish', 'SNS');
    const subject = input.Subject as string | undefined;
    if (subject !== undefined && (subject.length > 100 || /[\n\r]/.test(subject))) {
      throw new SimulatedServiceError('SNS.InvalidParameterException', 'client');
    }
    this.pages.push({
      at: timelineNow(),
      topicArn: input.TopicArn as string,
      subject,
      message: asJson(input.Message),
    });
    return { MessageId: `page-${this.pages.length}` };
  }

  private async getItem(input: Record<string, unknown>): Promise<unknown> {
    this.record('dynamodb', 'GetItem');
    this.throwIfFaulted('dynamodb', 'GetItem', 'DynamoDB');
    try {
      const answer = await this.dynamodb.send(new GetItemCommand(input as unknown as GetItemCommandInput));
      // What Step Functions passes on: the API's answer without the SDK's metadata.
      return answer.Item === undefined ? {} : { Item: answer.Item };
    } catch (error) {
      const name = (error as Error).name;
      throw new SimulatedServiceError(`DynamoDB.${name}`, name.includes('Throughput') ? 'server' : 'client');
    }
  }

  private async updateItem(input: Record<string, unknown>): Promise<unknown> {
    this.record('dynamodb', 'UpdateItem');
    this.throwIfFaulted('dynamodb', 'UpdateItem', 'DynamoDB');
    try {
      return await this.dynamodb.send(new UpdateItemCommand(input as unknown as UpdateItemCommandInput));
    } catch (error) {
      const name = (error as Error).name;
      throw new SimulatedServiceError(`DynamoDB.${name}`, name.includes('Throughput') ? 'server' : 'client');
    }
  }

  private installMocks(): void {
    const cloudwatch = mockClient(CloudWatchClient);
    cloudwatch.on(ListTagsForResourceCommand).callsFake((input: { ResourceARN?: string }) => {
      this.record('cloudwatch', 'ListTagsForResource');
      this.throwIfFaulted('cloudwatch', 'ListTagsForResource');
      const alarm = [...this.alarms.values()].find(
        (candidate) => alarmArn(candidate.name) === input.ResourceARN,
      );
      if (!alarm) throw new SimulatedServiceError('ResourceNotFoundException', 'client');
      return { Tags: Object.entries(alarm.tags).map(([Key, Value]) => ({ Key, Value })) };
    });
    cloudwatch
      .on(DescribeAlarmsCommand)
      .callsFake((input: { AlarmNames?: string[]; AlarmTypes?: string[] }) => {
        this.record('cloudwatch', 'DescribeAlarms');
        this.throwIfFaulted('cloudwatch', 'DescribeAlarms');
        const found = (input.AlarmNames ?? []).flatMap((name) => {
          const alarm = this.alarms.get(name);
          if (!alarm) return [];
          if (alarm.transition) {
            alarm.transition.afterReads -= 1;
            const { to, afterReads } = alarm.transition;
            if (afterReads <= 0) {
              if (to === 'DELETED') {
                this.alarms.delete(name);
                return [];
              }
              alarm.state = to;
              alarm.updatedAt = new Date();
              delete alarm.transition;
            }
          }
          return [alarm];
        });
        // DescribeAlarms returns only metric alarms unless AlarmTypes asks for composites too.
        const types = input.AlarmTypes ?? ['MetricAlarm'];
        const shape = (alarm: SimulatedAlarm) => ({
          AlarmName: alarm.name,
          AlarmArn: alarmArn(alarm.name),
          StateValue: alarm.state,
          StateReason: `Simulated: ${alarm.state}`,
          StateUpdatedTimestamp: alarm.updatedAt,
        });
        return {
          MetricAlarms: types.includes('MetricAlarm')
            ? found.filter((a) => a.type === 'MetricAlarm').map(shape)
            : [],
          CompositeAlarms: types.includes('CompositeAlarm')
            ? found.filter((a) => a.type === 'CompositeAlarm').map(shape)
            : [],
        };
      });
    // Asynchronous, as the SDK's send is: a fault is a rejected promise, not a synchronous throw.
    cloudwatch.on(GetMetricDataCommand).callsFake(async (input: GetMetricDataCommandInput) => {
      this.record('cloudwatch', 'GetMetricData');
      this.throwIfFaulted('cloudwatch', 'GetMetricData');
      return this.metrics.getMetricData(input);
    });
    const eks = mockClient(EKSClient);
    eks.on(DescribeClusterCommand).callsFake((input: { name?: string }) => {
      this.record('eks', 'DescribeCluster', input.name);
      this.throwIfFaulted('eks', 'DescribeCluster');
      const cluster = this.clusters.get(input.name ?? '');
      if (!cluster) {
        throw new ResourceNotFoundException({
          message: `No cluster found for name: ${input.name}.`,
          $metadata: {},
        });
      }
      return {
        cluster: {
          name: input.name,
          arn: `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/${input.name}`,
          status: cluster.status,
          endpoint: cluster.endpoint,
          certificateAuthority: { data: cluster.caData },
          resourcesVpcConfig: {
            ...DEFAULT_ENDPOINT_ACCESS,
            ...this.endpointAccess.get(input.name ?? ''),
          },
          accessConfig: { authenticationMode: 'API' },
        },
      };
    });
    const secrets = mockClient(SecretsManagerClient);
    secrets.on(GetSecretValueCommand).callsFake((input: { SecretId?: string }) => {
      this.record('secretsmanager', 'GetSecretValue');
      const value = this.secrets.get(input.SecretId ?? '');
      if (value === undefined) throw new SimulatedServiceError('ResourceNotFoundException', 'client');
      return { SecretString: value, Name: input.SecretId };
    });
    const sfn = mockClient(SFNClient);
    sfn.on(DescribeExecutionCommand).callsFake((input: { executionArn?: string }) => {
      this.record('states', 'DescribeExecution');
      const status = this.executionStatuses.get(input.executionArn ?? '');
      if (status === undefined) throw new SimulatedServiceError('ExecutionDoesNotExist', 'client');
      return { executionArn: input.executionArn, status };
    });
    sfn.on(SendTaskSuccessCommand).callsFake(async (input: { taskToken?: string; output?: string }) => {
      const record = this.openTask(input.taskToken, 'SendTaskSuccess');
      let output: unknown;
      try {
        output = JSON.parse(input.output ?? '');
      } catch {
        throw new InvalidOutput({ message: 'Invalid Output: the output is not valid JSON', $metadata: {} });
      }
      record.status = 'answered';
      record.answer = { at: timelineNow(), outcome: 'success', output };
      return {};
    });
    sfn
      .on(SendTaskFailureCommand)
      .callsFake(async (input: { taskToken?: string; error?: string; cause?: string }) => {
        const record = this.openTask(input.taskToken, 'SendTaskFailure');
        record.status = 'answered';
        record.answer = {
          at: timelineNow(),
          outcome: 'failure',
          error: input.error ?? '',
          cause: input.cause ?? '',
        };
        return {};
      });
    this.mocks.push(cloudwatch, eks, secrets, sfn);
  }

  /** The open task of a token, as Step Functions checks it before taking an answer. */
  private openTask(token: string | undefined, operation: string): TaskTokenRecord {
    const record = this.taskTokens.get(token ?? '');
    this.record('states', operation, record?.state);
    if (!record) throw new InvalidToken({ message: 'Invalid Token', $metadata: {} });
    if (record.status === 'open' && Date.now() >= record.deadline) record.status = 'timed-out';
    // What Step Functions answers for a token whose task is over, however it ended.
    if (record.status !== 'open') {
      throw new TaskTimedOut({
        message: "Task Timed Out: 'Provided task does not exist anymore'",
        $metadata: {},
      });
    }
    return record;
  }

  private record(service: string, operation: string, target?: string): void {
    this.calls.push({ at: timelineNow(), service, operation, ...(target !== undefined && { target }) });
  }

  private throwIfFaulted(service: AwsFault['service'], operation: string, integrationPrefix?: string): void {
    const fault = this.faults.find(
      (candidate) => candidate.service === service && candidate.operation === operation,
    );
    if (!fault) return;
    fault.times -= 1;
    if (fault.times <= 0) this.faults = this.faults.filter((candidate) => candidate !== fault);
    const name = integrationPrefix ? `${integrationPrefix}.${fault.name}` : fault.name;
    throw new SimulatedServiceError(name, fault.fault ?? 'server');
  }
}
