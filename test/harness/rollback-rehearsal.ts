import { readFileSync } from 'node:fs';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../lib/config/load';
import { rollbackRuntime } from '../../lib/config/rollback-runtime';
import type { RunbooksConfig } from '../../lib/config/schema';
import { startKubernetesApiServer, type SimulatedKubernetesApi } from './kubernetes-api-server';
import { ACCOUNT, REGION, SimulatedAccount } from './simulated-account';
import { startSlackReceiver, type SlackReceiver } from './slack-receiver';

const root = fileURLToPath(new URL('../../', import.meta.url));
export const LOCK_TABLE = 'platform-runbooks-locks';
const WEBHOOK_SECRET = 'platform-runbooks/slack-webhook';
export const EVENT_BUS = 'platform-runbooks-rehearsal';
export const ON_CALL_TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:platform-runbooks-on-call`;
export const CREDENTIALS = { accessKeyId: 'AKIDTESTTESTTESTTEST', secretAccessKey: 'test-secret-access-key' };

type Handler = (event: unknown) => Promise<unknown>;
type TaskOverride = (input: Record<string, unknown>) => Promise<unknown>;
type RunParameters = Parameters<StateMachine['run']>;
type LocalHandlers = NonNullable<NonNullable<RunParameters[1]>['overrides']>['taskResourceLocalHandlers'];

/** The Lambda functions of the rollback runbook, by the ASL substitution that names them. */
const FUNCTIONS = {
  PrepareFunctionArn: { name: 'rollback-prepare', load: () => import('../../lambdas/rollback-prepare') },
  UndoFunctionArn: { name: 'rollback-undo', load: () => import('../../lambdas/rollback-undo') },
  RolloutStatusFunctionArn: {
    name: 'rollback-rollout-status',
    load: () => import('../../lambdas/rollback-rollout-status'),
  },
  AlarmStatusFunctionArn: {
    name: 'rollback-alarm-status',
    load: () => import('../../lambdas/rollback-alarm-status'),
  },
  NotifySlackFunctionArn: { name: 'notify-slack', load: () => import('../../lambdas/notify-slack') },
} as const;

const functionArn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;

export interface TimelineEntry {
  /** Milliseconds since the event entered the state machine. */
  at: number;
  source: 'stepfunctions' | 'lambda' | 'kubernetes' | 'slack' | 'aws';
  text: string;
}

export interface RehearsalResult {
  status: 'SUCCEEDED' | 'FAILED';
  error?: { name: string; cause: string };
  output?: unknown;
  /** The states entered, in order (Parallel branches included). */
  states: string[];
  lambdaInvocations: Array<{ name: string; at: number; ms: number; error?: string }>;
  timeline: TimelineEntry[];
  /** performance.now() when the event entered the state machine. */
  startedAt: number;
}

export interface RunOptions {
  /** Replace a Task by state name (a fault that only a replaced step can produce). */
  overrides?: Record<string, TaskOverride>;
  executionName?: string;
}

/**
 * The rollback runbook, offline: the real ASL file executed by aws-local-stepfunctions, its Task states bound to
 * the real handler modules, AWS reached through the simulated account, Kubernetes through the simulated API
 * server over HTTPS, Slack through a real HTTP receiver. Waits and retry pauses run at zero.
 */
export class RollbackRehearsal {
  private executions = 0;

  private constructor(
    readonly config: RunbooksConfig,
    readonly account: SimulatedAccount,
    readonly kubernetes: Map<string, SimulatedKubernetesApi>,
    readonly slack: SlackReceiver,
    private readonly definition: Record<string, unknown>,
    private readonly machine: StateMachine,
    private readonly handlers: Map<string, Handler>,
  ) {}

  static async start(
    config: RunbooksConfig = loadConfig(`${root}lib/config/example.yaml`),
  ): Promise<RollbackRehearsal> {
    const runtime = rollbackRuntime(config);
    const account = await SimulatedAccount.start(LOCK_TABLE);
    const slack = await startSlackReceiver();
    account.secrets.set(WEBHOOK_SECRET, slack.url);
    const kubernetes = new Map<string, SimulatedKubernetesApi>();
    for (const cluster of config.eksClusters) {
      const api = await startKubernetesApiServer({
        clusterName: cluster.name,
        region: REGION,
        credentials: CREDENTIALS,
      });
      kubernetes.set(cluster.name, api);
      account.clusters.set(cluster.name, { endpoint: api.endpoint, caData: api.caData, status: 'ACTIVE' });
    }

    // What the CDK construct gives each function, so the handlers read the same settings as in AWS.
    Object.assign(process.env, runtime.prepareEnvironment, {
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: account.dynamodbEndpoint,
      LOCK_TABLE_NAME: LOCK_TABLE,
      WEBHOOK_SECRET_ID: WEBHOOK_SECRET,
      DASHBOARD_URL: config.dashboardUrl ?? '',
      KUBERNETES_TIMEOUT_MS: '1000',
      POWERTOOLS_SERVICE_NAME: 'platform-runbooks-rehearsal',
    });
    delete process.env.AWS_SESSION_TOKEN;

    const handlers = new Map<string, Handler>();
    const substitutions: Record<string, string> = {
      ...runtime.substitutions,
      LockTableName: LOCK_TABLE,
      EventBusName: EVENT_BUS,
      OnCallTopicArn: ON_CALL_TOPIC,
    };
    for (const [key, fn] of Object.entries(FUNCTIONS)) {
      substitutions[key] = functionArn(fn.name);
      handlers.set(functionArn(fn.name), (await fn.load()).handler as Handler);
    }
    const text = readFileSync(`${root}state-machines/rollback.asl.json`, 'utf8').replace(
      /\$\{(\w+)\}/g,
      (_, key: string) => {
        const value = substitutions[key];
        if (value === undefined)
          throw new Error(`rollback.asl.json uses \${${key}}, which the rehearsal does not set`);
        return value;
      },
    );
    const definition = JSON.parse(text) as Record<string, unknown>;
    // Built once: validating the definition takes ~150 ms, which is not part of the runbook's latency.
    const machine = new StateMachine(definition as unknown as StateMachineDefinition, {
      validationOptions: { checkArn: true, checkPaths: true },
    });
    return new RollbackRehearsal(config, account, kubernetes, slack, definition, machine, handlers);
  }

  /** The simulated API server of a cluster from the configuration. */
  cluster(name = this.config.eksClusters[0]?.name ?? ''): SimulatedKubernetesApi {
    const api = this.kubernetes.get(name);
    if (!api) throw new Error(`No simulated cluster ${name}`);
    return api;
  }

  /** A `CloudWatch Alarm State Change` event as EventBridge delivers it. */
  alarmEvent(
    alarmName: string,
    overrides: { id?: string; state?: string; at?: Date } = {},
  ): Record<string, unknown> {
    const at = overrides.at ?? new Date();
    return {
      version: '0',
      id: overrides.id ?? crypto.randomUUID(),
      'detail-type': 'CloudWatch Alarm State Change',
      source: 'aws.cloudwatch',
      account: ACCOUNT,
      time: at.toISOString(),
      region: REGION,
      resources: [`arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${alarmName}`],
      detail: {
        alarmName,
        state: {
          value: overrides.state ?? 'ALARM',
          reason: 'Threshold Crossed: 3 out of the last 3 datapoints were greater than the threshold (5.0).',
          // CloudWatch's own timestamp format, offset without a colon.
          timestamp: at.toISOString().replace('Z', '+0000'),
        },
        previousState: { value: 'OK', reason: 'Threshold not crossed', timestamp: at.toISOString() },
        configuration: { metrics: [] },
      },
    };
  }

  async run(event: unknown, options: RunOptions = {}): Promise<RehearsalResult> {
    this.executions += 1;
    const executionName = options.executionName ?? `rehearsal-${this.executions}-${Date.now()}`;
    const executionArn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:platform-runbooks-rollback:${executionName}`;
    const startedAt = performance.now();
    const wallStart = Date.now();
    const invocations: RehearsalResult['lambdaInvocations'] = [];
    const timeline: TimelineEntry[] = [];
    const since = (at: number) => at - startedAt;

    const taskResourceLocalHandlers: NonNullable<LocalHandlers> = {};
    const waitTimeOverrides: Record<string, number> = {};
    const retryIntervalOverrides: Record<string, number> = {};
    forEachState(this.definition, (name, state) => {
      if (state.Type === 'Wait') waitTimeOverrides[name] = 0;
      if (Array.isArray(state.Retry)) retryIntervalOverrides[name] = 0;
      if (state.Type !== 'Task') return;
      const resource = String(state.Resource);
      const override = options.overrides?.[name];
      const handler = this.handlers.get(resource);
      const invoke = override ?? handler;
      taskResourceLocalHandlers[name] = async (json) => {
        const input = json as Record<string, unknown>;
        if (!handler) {
          try {
            return (await (override
              ? override(input)
              : this.account.serviceIntegration(resource, input))) as never;
          } catch (error) {
            timeline.push({
              at: since(performance.now()),
              source: 'aws',
              text: `${name} failed: ${(error as Error).message}`,
            });
            throw error;
          }
        }
        const at = performance.now();
        const fn = resource.split(':').pop() ?? resource;
        try {
          // Lambda serialises the payload both ways; so does the rehearsal.
          const result = (await (invoke as Handler)(JSON.parse(JSON.stringify(input)))) as unknown;
          invocations.push({ name: fn, at: since(at), ms: performance.now() - at });
          return JSON.parse(JSON.stringify(result ?? null)) as never;
        } catch (error) {
          const failure = error as Error;
          invocations.push({ name: fn, at: since(at), ms: performance.now() - at, error: failure.name });
          throw lambdaError(failure);
        }
      };
    });

    const execution = this.machine.run(event as RunParameters[0], {
      overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides },
      context: {
        Execution: {
          Id: executionArn,
          Name: executionName,
          StartTime: new Date(wallStart).toISOString(),
          Input: event as RunParameters[0],
          RoleArn: `arn:aws:iam::${ACCOUNT}:role/platform-runbooks-rollback`,
        },
        StateMachine: {
          Id: executionArn.replace(/:execution:([^:]+):.*/, ':stateMachine:$1'),
          Name: 'rollback',
        },
      },
    });
    const states: string[] = [];
    const logging = (async () => {
      for await (const entry of execution.eventLogs) {
        const record = entry as { type: string; timestamp: number; state?: { name: string }; Error?: string };
        if (record.type === 'StateEntered' && record.state) {
          states.push(record.state.name);
          timeline.push({
            at: record.timestamp - wallStart,
            source: 'stepfunctions',
            text: `→ ${record.state.name}`,
          });
        } else if (record.type === 'StateRetried' && record.state) {
          timeline.push({
            at: record.timestamp - wallStart,
            source: 'stepfunctions',
            text: `↻ retry ${record.state.name}`,
          });
        }
      }
    })();

    let result: RehearsalResult;
    try {
      const output = await execution.result;
      result = { status: 'SUCCEEDED', output, states, lambdaInvocations: invocations, timeline, startedAt };
    } catch (error) {
      const cause = (error as { cause?: Error }).cause ?? (error as Error);
      result = {
        status: 'FAILED',
        error: { name: cause.name, cause: cause.message },
        states,
        lambdaInvocations: invocations,
        timeline,
        startedAt,
      };
    }
    await logging;
    this.collectTimeline(result, startedAt);
    return result;
  }

  private collectTimeline(result: RehearsalResult, startedAt: number): void {
    const since = (at: number) => at - startedAt;
    for (const call of result.lambdaInvocations) {
      result.timeline.push({
        at: call.at,
        source: 'lambda',
        text: `${call.name} invoked, ${call.error ? `threw ${call.error}` : 'returned'} after ${call.ms.toFixed(1)} ms`,
      });
    }
    for (const [name, api] of this.kubernetes) {
      for (const request of api.requests.filter((r) => r.at >= startedAt)) {
        result.timeline.push({
          at: since(request.at),
          source: 'kubernetes',
          text: `${name}: ${request.method} ${request.path.split('?')[0]} → ${request.status}`,
        });
      }
    }
    for (const message of this.slack.messages.filter((m) => m.at >= startedAt)) {
      result.timeline.push({ at: since(message.at), source: 'slack', text: `message: ${message.body.text}` });
    }
    for (const event of this.account.events.filter((e) => e.at >= startedAt)) {
      result.timeline.push({ at: since(event.at), source: 'aws', text: `EventBridge ${event.detailType}` });
    }
    for (const page of this.account.pages.filter((p) => p.at >= startedAt)) {
      result.timeline.push({ at: since(page.at), source: 'aws', text: `SNS page: ${page.subject ?? ''}` });
    }
    result.timeline.sort((a, b) => a.at - b.at);
  }

  /** Clears what one scenario left behind: alarms, records, the lock table's items, Kubernetes state. */
  async reset(): Promise<void> {
    this.account.reset();
    await this.account.clearTable(LOCK_TABLE);
    this.slack.reset();
    for (const api of this.kubernetes.values()) api.reset();
  }

  async close(): Promise<void> {
    await this.slack.close();
    for (const api of this.kubernetes.values()) await api.close();
    await this.account.close();
  }
}

/** A Lambda failure as Step Functions sees it: Error is the errorType, Cause the JSON error document. */
function lambdaError(error: Error): Error {
  const surfaced = new Error(JSON.stringify({ errorType: error.name, errorMessage: error.message }));
  surfaced.name = error.name;
  return surfaced;
}

function forEachState(
  definition: Record<string, unknown>,
  visit: (name: string, state: Record<string, unknown>) => void,
): void {
  const states = definition.States as Record<string, Record<string, unknown>>;
  for (const [name, state] of Object.entries(states)) {
    visit(name, state);
    for (const branch of (state.Branches as Array<Record<string, unknown>> | undefined) ?? [])
      forEachState(branch, visit);
  }
}
