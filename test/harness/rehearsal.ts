import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { fileURLToPath } from 'node:url';
import * as z from 'zod/mini';
import { notifySlackFunction } from '../../lambdas/notify/functions';
import type { RunbookFunctionEntry, RunbookFunctionTable } from '../../lambdas/shared/function-table';
import type { EksCluster } from '../../lib/config/shared';
import { startKubernetesApiServer, type SimulatedKubernetesApi } from './kubernetes/server';
import { ACCOUNT, REGION, SimulatedAccount } from './simulated-account';
import { startSlackReceiver, type SlackReceiver } from './slack-receiver';
import {
  advanceVirtualClock,
  installVirtualClock,
  timelineNow,
  uninstallVirtualClock,
} from './virtual-clock';

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

const functionArn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
/** A function's ARN without its version or alias, from a name or an ARN, as `lambda:invoke` takes either. */
const unqualifiedArn = (name: string) =>
  name.startsWith('arn:') ? name.split(':').slice(0, 7).join(':') : functionArn(name);

const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const WAIT_FOR_TASK_TOKEN = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
/** The Parameters field the executor resolves a callback Task's TimeoutSecondsPath into (see `executable`). */
const TIMEOUT_FIELD = 'rehearsal:timeoutSeconds';
/** Node's longest timer, in seconds: a longer one fires at once. */
const MAX_TIMER_SECONDS = Math.floor(0x7fffffff / 1000);
const lambdaInvocation = z.object({ FunctionName: z.string(), Payload: z.optional(z.unknown()) });

/**
 * A run the rehearsal cannot carry on as AWS would (a Wait it cannot time, a hook that threw): `run` rejects
 * with it. Neither a Retry nor a Catch of the state machine matches it (the executor reads these two flags).
 */
export class RehearsalError extends Error {
  override name = 'RehearsalError';
  readonly isRetryable = false;
  readonly isCatchable = false;
}

/** What an `onTaskToken` hook receives: a callback Task's token, once its Lambda has returned. */
export interface TaskTokenRequest {
  token: string;
  /** The Task state's name. */
  state: string;
  /** The event its Lambda received (the Task's `Payload`). */
  payload: unknown;
  executionArn: string;
}

/**
 * Answers a callback Task, or not: through the SFN client (SendTaskSuccess, SendTaskFailure), as the
 * approval endpoint and the CLI do. Still unanswered when it resolves, the Task times out.
 */
export type TaskTokenHook = (request: TaskTokenRequest) => Promise<void>;

/** What a run's Tasks wrote at their ResultPath, as far as the rehearsal knows: where its Waits read paths. */
type StateData = Record<string, unknown>;

/** One run's own records, written by its Task handlers. */
interface RunRecords {
  executionArn: string;
  /** `timelineNow()` when the event entered the state machine. */
  startedAt: number;
  invocations: RehearsalResult['lambdaInvocations'];
  timeline: TimelineEntry[];
  data: StateData;
}

/** What every runbook's configuration has: the shared sections the rehearsal's peers are built from. */
export interface RehearsalConfig {
  environment: string;
  dashboardUrl?: string;
  eksClusters: EksCluster[];
}

/** What a runbook's construct derives from its configuration section, derived the same way offline. */
export interface RunbookDeployment {
  /** `definitionSubstitutions` beyond the kit's and the functions' ARNs (timings, limits). */
  substitutions: Record<string, string>;
  /** Environment variables its handlers read, beyond the kit's (lock table, webhook secret, AWS endpoints). */
  environment: Record<string, string>;
}

/** One step of a scenario's plan: events sent one after another, or at once when `concurrent`. */
export interface ScenarioPlan {
  events: unknown[];
  concurrent?: boolean;
  options?: RunOptions;
}

export interface Scenario<C extends RehearsalConfig = RehearsalConfig> {
  name: string;
  summary: string;
  /**
   * The configuration it needs, derived from the runbook's default (a `network` section, say); omitted: any.
   * The handlers read their settings once per process, as in Lambda, so the rehearsal must be started with it.
   */
  config?(base: C): C;
  arrange(rehearsal: Rehearsal<C>): Promise<ScenarioPlan>;
}

/**
 * A runbook as the rehearsal knows it: its ASL file, its function table (the same one its construct
 * deploys), what its construct derives from the configuration, and its scenarios. A new runbook supplies
 * one of these in `test/harness/<runbook>/rehearsal.ts` and `npm run rehearse -- <runbook>` finds it.
 */
export interface RehearsedRunbook<C extends RehearsalConfig = RehearsalConfig> {
  name: string;
  /** The ASL file, absolute path. */
  definitionPath: string;
  functions: RunbookFunctionTable;
  /** The configuration a rehearsal uses when none is given (the shipped example). */
  defaultConfig(): C;
  deployment(config: C): RunbookDeployment;
  scenarios: Array<Scenario<C>>;
  /**
   * What a function's answer says, for the timeline (the canary's analysis: each check's values against its
   * limits); undefined for nothing. `serviceName` is the table entry's.
   */
  describeResult?(serviceName: string, result: unknown): string | undefined;
}

export interface TimelineEntry {
  /** Milliseconds since the event entered the state machine. */
  at: number;
  source: 'stepfunctions' | 'lambda' | 'kubernetes' | 'slack' | 'aws';
  text: string;
}

/** A runbook's own simulated peer's lines of a run, from the run's start (epoch ms on the virtual clock). */
export type TimelineSource = (runStartedAt: number) => TimelineEntry[];

export interface RehearsalResult {
  status: 'SUCCEEDED' | 'FAILED';
  error?: { name: string; cause: string };
  output?: unknown;
  /** The states entered, in order (Parallel branches and Map iterations included). */
  states: string[];
  lambdaInvocations: Array<{ name: string; at: number; ms: number; error?: string; said?: string }>;
  timeline: TimelineEntry[];
  /** `timelineNow()` when the event entered the state machine. */
  startedAt: number;
}

export interface RunOptions {
  /**
   * Replace a Task by state name (a fault that only a replaced step can produce). A Lambda Task's override
   * (its ARN as Resource, or `lambda:invoke`, or `lambda:invoke.waitForTaskToken`) stands in for the function:
   * it receives the event, its result and errors pass through Lambda, and a callback Task still waits for its
   * token.
   */
  overrides?: Record<string, TaskOverride>;
  executionName?: string;
}

/**
 * A runbook, offline: the real ASL file executed by aws-local-stepfunctions, its Task states bound to the real
 * handler modules of its function table, AWS reached through the simulated account, Kubernetes through a
 * simulated API server per configured cluster over HTTPS, Slack through a real HTTP receiver. Retry pauses
 * run at zero; Waits take no real time but move the virtual clock on by their duration (virtual-clock.ts).
 * A callback Task (`lambda:invoke.waitForTaskToken`) invokes its function, then `onTaskToken`'s hook answers
 * its token or lets it time out, on the virtual clock too.
 */
export class Rehearsal<C extends RehearsalConfig = RehearsalConfig> {
  private executions = 0;
  private readonly cleanups: Array<() => void | Promise<void>> = [];
  private readonly timelineSources: TimelineSource[] = [];
  private taskTokenHook: { hook: TaskTokenHook; by: string } | undefined;

  private constructor(
    readonly runbook: RehearsedRunbook<C>,
    readonly config: C,
    readonly account: SimulatedAccount,
    readonly kubernetes: Map<string, SimulatedKubernetesApi>,
    readonly slack: SlackReceiver,
    private readonly definition: Record<string, unknown>,
    private readonly machine: StateMachine,
    private readonly handlers: Map<string, Handler>,
  ) {}

  static async start<C extends RehearsalConfig>(
    runbook: RehearsedRunbook<C>,
    config: C = runbook.defaultConfig(),
  ): Promise<Rehearsal<C>> {
    const deployment = runbook.deployment(config);
    installVirtualClock();
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

    // What the CDK constructs give the functions, so the handlers read the same settings as in AWS.
    Object.assign(process.env, deployment.environment, {
      ENVIRONMENT_NAME: config.environment,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: account.dynamodbEndpoint,
      LOCK_TABLE_NAME: LOCK_TABLE,
      WEBHOOK_SECRET_ID: WEBHOOK_SECRET,
      // Slack-app mode's Web API: the receiver plays it (lambdas/notify/slack-app.ts, baseUrl).
      SLACK_API_URL: slack.api.baseUrl,
      DASHBOARD_URL: config.dashboardUrl ?? '',
      KUBERNETES_TIMEOUT_MS: '1000',
      POWERTOOLS_SERVICE_NAME: 'platform-runbooks-rehearsal',
    });
    delete process.env.AWS_SESSION_TOKEN;

    // The same substitutions RunbookStateMachine provides, with the functions named after their table entries.
    const handlers = new Map<string, Handler>();
    const substitutions: Record<string, string> = {
      ...deployment.substitutions,
      EnvironmentName: config.environment,
      LockTableName: LOCK_TABLE,
      EventBusName: EVENT_BUS,
      OnCallTopicArn: ON_CALL_TOPIC,
    };
    for (const fn of [...Object.values(runbook.functions), notifySlackFunction]) {
      substitutions[fn.substitution] = functionArn(fn.serviceName);
      const module = (await import(`${root}${fn.handler}`)) as { handler?: Handler };
      if (typeof module.handler !== 'function') throw new Error(`${fn.handler} exports no handler`);
      handlers.set(functionArn(fn.serviceName), module.handler);
    }
    const file = runbook.definitionPath;
    const text = readFileSync(file, 'utf8').replace(/\$\{(\w+)\}/g, (_, key: string) => {
      const value = substitutions[key];
      if (value === undefined) throw new Error(`${file} uses \${${key}}, which the rehearsal does not set`);
      return value;
    });
    const definition = JSON.parse(text) as Record<string, unknown>;
    // Built once: validating the definition takes ~150 ms, which is not part of the runbook's latency.
    const machine = new StateMachine(executable(definition) as unknown as StateMachineDefinition, {
      validationOptions: { checkArn: true, checkPaths: true },
    });
    return new Rehearsal(runbook, config, account, kubernetes, slack, definition, machine, handlers);
  }

  /** The simulated API server of a cluster from the configuration. */
  cluster(name = this.config.eksClusters[0]?.name ?? ''): SimulatedKubernetesApi {
    const api = this.kubernetes.get(name);
    if (!api) throw new Error(`No simulated cluster ${name}`);
    return api;
  }

  /** The deployed handler of a function table entry, for an override that wraps it (a lost answer, say). */
  handlerOf(entry: RunbookFunctionEntry): TaskOverride {
    const handler = this.handlers.get(functionArn(entry.serviceName));
    if (!handler)
      throw new Error(`${entry.serviceName} is not a function of the ${this.runbook.name} rehearsal`);
    return (input) => handler(input);
  }

  /** A scenario of this runbook by name, or an error that lists them. */
  scenario(name: string): Scenario<C> {
    const scenario = this.runbook.scenarios.find((candidate) => candidate.name === name);
    if (!scenario) {
      throw new Error(
        `Unknown ${this.runbook.name} scenario "${name}". Scenarios: ${this.runbook.scenarios.map((s) => s.name).join(', ')}`,
      );
    }
    return scenario;
  }

  /** Arranges and runs one scenario on a reset rehearsal. */
  async runScenario(scenario: Scenario<C> | string): Promise<RehearsalResult[]> {
    const chosen = typeof scenario === 'string' ? this.scenario(scenario) : scenario;
    // Run with another configuration, it would rehearse something else than its summary says.
    if (
      chosen.config &&
      JSON.stringify(chosen.config(this.runbook.defaultConfig())) !== JSON.stringify(this.config)
    ) {
      throw new Error(
        `Scenario "${chosen.name}" runs with its own configuration: start the rehearsal with Rehearsal.start(runbook, scenario.config(runbook.defaultConfig())).`,
      );
    }
    await this.reset();
    const plan = await chosen.arrange(this);
    if (plan.concurrent) return Promise.all(plan.events.map((event) => this.run(event, plan.options)));
    const results: RehearsalResult[] = [];
    for (const event of plan.events) results.push(await this.run(event, plan.options));
    return results;
  }

  async run(event: unknown, options: RunOptions = {}): Promise<RehearsalResult> {
    this.executions += 1;
    const executionName = options.executionName ?? `rehearsal-${this.executions}-${Date.now()}`;
    const executionArn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:platform-runbooks-${this.runbook.name}:${executionName}`;
    const startedAt = timelineNow();
    const wallStart = Date.now();
    const run: RunRecords = { executionArn, startedAt, invocations: [], timeline: [], data: {} };
    const { invocations, timeline } = run;

    const taskResourceLocalHandlers: NonNullable<LocalHandlers> = {};
    const waitTimeOverrides: Record<string, number> = {};
    const retryIntervalOverrides: Record<string, number> = {};
    forEachState(this.definition, (name, state) => {
      if (state.Type === 'Wait') {
        // Read by the executor each time the Wait runs: the clock moves on by the wait, no real time passes.
        const seconds = waitClock(name, state, this.definition);
        Object.defineProperty(waitTimeOverrides, name, {
          enumerable: true,
          get: () => {
            advanceVirtualClock(seconds(run.data));
            return 0;
          },
        });
      }
      if (Array.isArray(state.Retry)) retryIntervalOverrides[name] = 0;
      if (state.Type !== 'Task') return;
      const override = options.overrides?.[name];
      taskResourceLocalHandlers[name] = async (json) => {
        const result = await this.perform(name, state, json as Record<string, unknown>, override, run);
        run.data = recordResult(run.data, state, result);
        return result as never;
      };
    });

    this.account.executionStatuses.set(executionArn, 'RUNNING');
    const execution = this.machine.run(event as RunParameters[0], {
      overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides },
      context: {
        Execution: {
          Id: executionArn,
          Name: executionName,
          StartTime: new Date(wallStart).toISOString(),
          Input: event as RunParameters[0],
          RoleArn: `arn:aws:iam::${ACCOUNT}:role/platform-runbooks-${this.runbook.name}`,
        },
        StateMachine: {
          Id: executionArn.replace(/:execution:([^:]+):.*/, ':stateMachine:$1'),
          Name: this.runbook.name,
        },
        // The executor copies the context once per run but keeps this object: each read of $$.Task.Token
        // mints a token, so each callback Task (and each retry of one) has its own, as in AWS.
        Task: {
          get Token() {
            return mintTaskToken();
          },
        },
        // The state's entry time on the rehearsal's clock: a Choice that compares it with a deadline runs at
        // entry, so "now" is what it reads.
        State: {
          get EnteredTime() {
            return new Date().toISOString();
          },
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
      this.account.executionStatuses.set(executionArn, 'SUCCEEDED');
    } catch (error) {
      this.account.executionStatuses.set(executionArn, 'FAILED');
      const cause = (error as { cause?: Error }).cause ?? (error as Error);
      if (cause instanceof RehearsalError) {
        await logging;
        throw cause;
      }
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
    this.collectTimeline(result, startedAt, wallStart);
    return result;
  }

  /** Serves one Task state, as Lambda, a Step Functions service integration or a callback Task would. */
  private async perform(
    name: string,
    state: Record<string, unknown>,
    input: Record<string, unknown>,
    override: TaskOverride | undefined,
    run: RunRecords,
  ): Promise<unknown> {
    const resource = String(state.Resource);
    const handler = this.handlers.get(resource);
    if (handler) return this.invoke(resource, (override as Handler | undefined) ?? handler, input, run);
    if (resource === LAMBDA_INVOKE || resource === WAIT_FOR_TASK_TOKEN) {
      const { [TIMEOUT_FIELD]: timeoutSeconds, ...parameters } = input;
      const call = lambdaInvocation.safeParse(parameters);
      if (!call.success) throw new RehearsalError(`${name}: ${resource} needs Parameters.FunctionName`);
      const arn = unqualifiedArn(call.data.FunctionName);
      const fn = (override as Handler | undefined) ?? this.handlers.get(arn);
      if (!fn) {
        throw new RehearsalError(
          `${name} invokes ${call.data.FunctionName}, which is not a function of the ${this.runbook.name} rehearsal`,
        );
      }
      const payload = call.data.Payload ?? {};
      if (resource === LAMBDA_INVOKE) {
        return { Payload: await this.invoke(arn, fn, payload, run), StatusCode: 200 };
      }
      return this.awaitTaskToken(name, state, { arn, fn, payload, timeoutSeconds }, run);
    }
    try {
      return await (override ? override(input) : this.account.serviceIntegration(resource, input));
    } catch (error) {
      run.timeline.push({
        at: timelineNow() - run.startedAt,
        source: 'aws',
        text: `${name} failed: ${(error as Error).message}`,
      });
      throw error;
    }
  }

  /** Invokes a function as Lambda does: event and result serialised both ways, an error by its type. */
  private async invoke(arn: string, fn: Handler, event: unknown, run: RunRecords): Promise<unknown> {
    const name = arn.split(':').pop() ?? arn;
    const at = timelineNow() - run.startedAt;
    const began = performance.now();
    try {
      const result = await fn(JSON.parse(JSON.stringify(event)));
      const said = this.runbook.describeResult?.(name, result);
      run.invocations.push({ name, at, ms: performance.now() - began, ...(said !== undefined && { said }) });
      return JSON.parse(JSON.stringify(result ?? null)) as unknown;
    } catch (error) {
      const failure = error as Error;
      run.invocations.push({ name, at, ms: performance.now() - began, error: failure.name });
      throw lambdaError(failure);
    }
  }

  /**
   * A callback Task: invokes its function with the token in the Payload, lets the scenario's hook answer,
   * then ends as the answer says, or times out: the virtual clock moves on to the Task's deadline.
   */
  private async awaitTaskToken(
    name: string,
    state: Record<string, unknown>,
    call: { arn: string; fn: Handler; payload: unknown; timeoutSeconds: unknown },
    run: RunRecords,
  ): Promise<unknown> {
    const token = taskTokenIn((state.Parameters as { Payload?: unknown } | undefined)?.Payload, call.payload);
    if (token === undefined) {
      throw new RehearsalError(
        `${name} waits for a task token, but its Payload does not pass $$.Task.Token: nothing could answer it`,
      );
    }
    const timeoutSeconds =
      state.TimeoutSecondsPath === undefined ? state.TimeoutSeconds : call.timeoutSeconds;
    if (timeoutSeconds !== undefined && !isPositiveInteger(timeoutSeconds)) {
      throw statesRuntime(
        `${name}: TimeoutSecondsPath ${String(state.TimeoutSecondsPath)} is ${JSON.stringify(timeoutSeconds)}, not a positive integer`,
      );
    }
    const record = this.account.openTaskToken(token, {
      executionArn: run.executionArn,
      state: name,
      timeoutSeconds,
    });
    const fnName = call.arn.split(':').pop() ?? call.arn;
    const note = (text: string, at = timelineNow()) =>
      run.timeline.push({ at: at - run.startedAt, source: 'stepfunctions', text: `${name}: ${text}` });
    note(`task token sent to ${fnName}`);
    try {
      await this.invoke(call.arn, call.fn, call.payload, run);
    } catch (error) {
      this.account.closeTaskToken(token, 'closed');
      throw error;
    }
    // The function may have answered itself; otherwise whoever the scenario plays (an approver, the CLI).
    let by = fnName;
    if (record.status === 'open' && this.taskTokenHook) {
      by = this.taskTokenHook.by;
      try {
        await this.taskTokenHook.hook({
          token,
          state: name,
          payload: JSON.parse(JSON.stringify(call.payload)),
          executionArn: run.executionArn,
        });
      } catch (error) {
        this.account.closeTaskToken(token, 'closed');
        throw new RehearsalError(`The onTaskToken hook failed for ${name}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    const { answer } = record;
    if (answer?.outcome === 'success') {
      note(`task token answered: success by ${by}`, answer.at);
      return answer.output;
    }
    if (answer?.outcome === 'failure') {
      note(`task token answered: failure (${answer.error}) by ${by}`, answer.at);
      const failure = new Error(answer.cause);
      failure.name = answer.error;
      throw failure;
    }
    if (timeoutSeconds === undefined) {
      this.account.closeTaskToken(token, 'closed');
      throw new RehearsalError(
        `${name}: nobody answered its task token, and without TimeoutSeconds AWS would wait until the execution's own limit`,
      );
    }
    advanceVirtualClock(Math.max(0, record.deadline - Date.now()) / 1000);
    this.account.closeTaskToken(token, 'timed-out');
    note(`task token timed out after ${timeoutSeconds} s`);
    throw new (await statesTimeoutError())();
  }

  private collectTimeline(result: RehearsalResult, startedAt: number, wallStart: number): void {
    for (const source of this.timelineSources) result.timeline.push(...source(wallStart));
    const since = (at: number) => at - startedAt;
    for (const call of result.lambdaInvocations) {
      result.timeline.push({
        at: call.at,
        source: 'lambda',
        text: `${call.name} invoked, ${call.error ? `threw ${call.error}` : 'returned'} after ${call.ms.toFixed(1)} ms${call.said ? `: ${call.said}` : ''}`,
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

  /** Clears what one scenario left behind: alarms, records, the lock table's items, Kubernetes state, the hook. */
  async reset(): Promise<void> {
    this.taskTokenHook = undefined;
    this.account.reset();
    await this.account.clearTable(LOCK_TABLE);
    this.slack.reset();
    for (const api of this.kubernetes.values()) api.reset();
  }

  /**
   * Who answers callback Tasks (`lambda:invoke.waitForTaskToken`) until `reset`: `hook` is called once the
   * Task's function has returned, for each callback Task of every run; `by` names who it plays, for the
   * timeline ("answered: success by <by>"). Without a hook, every token times out.
   */
  onTaskToken(hook: TaskTokenHook, by = 'the scenario'): void {
    this.taskTokenHook = { hook, by };
  }

  /**
   * Adds a runbook's own simulated peer to every run's timeline: `source` receives the run's start on the
   * (virtual) `Date` clock and answers the peer's entries since then, `at` relative to it.
   */
  addTimelineSource(source: TimelineSource): void {
    this.timelineSources.push(source);
  }

  /** Runs `cleanup` at close: a runbook's own simulated peers (mocked SDK clients, servers) go with it. */
  onClose(cleanup: () => void | Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  async close(): Promise<void> {
    for (const cleanup of this.cleanups.splice(0).reverse()) await cleanup();
    await this.slack.close();
    for (const api of this.kubernetes.values()) await api.close();
    await this.account.close();
    uninstallVirtualClock();
  }
}

/**
 * How long a Wait state waits, in seconds, told each time it runs: its `Seconds`; for `SecondsPath:
 * $.settings.<key>` the number a Pass state's `settings.<key>.$: States.StringToJson('<n>')` parses from its
 * substitution (the runbooks' convention for timings); otherwise its `SecondsPath` or `TimestampPath`
 * `$.<key>[.<field>…]` read from what the run's Tasks wrote (`recordResult`). Anything else is refused, so a
 * rehearsal never silently waits zero.
 */
function waitClock(
  name: string,
  state: Record<string, unknown>,
  definition: Record<string, unknown>,
): (data: StateData) => number {
  if (typeof state.Seconds === 'number') {
    const seconds = state.Seconds;
    return () => seconds;
  }
  const setting = settingSeconds(state.SecondsPath, definition);
  if (setting !== undefined) return () => setting;
  const field = state.SecondsPath === undefined ? 'TimestampPath' : 'SecondsPath';
  const path = String(state[field]);
  const keys = referencePathKeys(path);
  if (keys === undefined || keys.length === 0) {
    throw new RehearsalError(
      `Wait state ${name}: cannot tell how long it waits (Seconds, SecondsPath $.settings.<key>, or a SecondsPath or TimestampPath $.<key>.<field> a Task wrote)`,
    );
  }
  return (data) => {
    const value = keys.reduce<unknown>((node, key) => (isRecord(node) ? node[key] : undefined), data);
    const unresolved = (wanted: string) =>
      new RehearsalError(
        `Wait state ${name}: ${field} ${path} is ${JSON.stringify(value) ?? 'undefined'} in this run, not ${wanted}. ` +
          `The rehearsal reads it from what the run's Tasks wrote at their ResultPath: ${Object.keys(data).join(', ') || 'nothing yet'}.`,
      );
    if (field === 'SecondsPath') {
      if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
      throw unresolved('a number of seconds');
    }
    const at = typeof value === 'string' ? Date.parse(value) : NaN;
    if (Number.isNaN(at)) throw unresolved('a timestamp');
    return Math.max(0, (at - Date.now()) / 1000);
  };
}

/** The seconds a `SecondsPath: $.settings.<key>` reads from a Pass state's parsed substitution, if any. */
function settingSeconds(secondsPath: unknown, definition: Record<string, unknown>): number | undefined {
  const key = /^\$\.settings\.(\w+)$/.exec(String(secondsPath))?.[1];
  if (key === undefined) return undefined;
  let found: number | undefined;
  forEachState(definition, (_name, candidate) => {
    const settings = (candidate.Parameters as { settings?: Record<string, unknown> } | undefined)?.settings;
    const literal = /^States\.StringToJson\('(\d+)'\)$/.exec(String(settings?.[`${key}.$`]))?.[1];
    if (literal !== undefined) found = Number(literal);
  });
  return found;
}

/** The keys of a reference path `$`, `$.a`, `$.a.b`…; undefined for anything else. */
function referencePathKeys(path: string): string[] | undefined {
  return /^\$(\.\w+)*$/.test(path) ? path.split('.').slice(1) : undefined;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Writes a Task's result where its ResultPath puts it in `data`: `$.x` under `x`, `$` in place of
 * everything, `null` nowhere. A ResultSelector's pick is not modelled: the path is cleared instead, so a Wait
 * that reads it fails clearly rather than reading a stale value.
 */
function recordResult(data: StateData, state: Record<string, unknown>, result: unknown): StateData {
  if (state.ResultPath === null) return data;
  const keys = referencePathKeys(typeof state.ResultPath === 'string' ? state.ResultPath : '$');
  if (keys === undefined) return data;
  // A copy: the executor keeps the result in its own state data.
  const value = state.ResultSelector === undefined ? structuredClone(result) : undefined;
  const last = keys.pop();
  if (last === undefined) return isRecord(value) ? value : {};
  let node = data;
  for (const key of keys) {
    const next = node[key];
    node = isRecord(next) ? next : (node[key] = {});
  }
  node[last] = value;
  return data;
}

/**
 * The definition the executor runs. Its Task timeouts are real timers, and a callback Task's wait is timed by
 * the rehearsal on the virtual clock: the executor's timer is put out of reach, and a TimeoutSecondsPath
 * (which the executor would resolve against the Parameters, not the state input) is resolved into a
 * Parameters field the rehearsal reads. A timeout beyond Node's longest timer is capped: it would fire at once.
 */
function executable(definition: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(definition);
  forEachState(copy, (_name, state) => {
    if (state.Type !== 'Task') return;
    if (state.Resource === WAIT_FOR_TASK_TOKEN) {
      if (typeof state.TimeoutSecondsPath === 'string') {
        state.Parameters = {
          ...(state.Parameters as object),
          [`${TIMEOUT_FIELD}.$`]: state.TimeoutSecondsPath,
        };
        delete state.TimeoutSecondsPath;
      }
      state.TimeoutSeconds = MAX_TIMER_SECONDS;
    } else if (typeof state.TimeoutSeconds === 'number') {
      state.TimeoutSeconds = Math.min(state.TimeoutSeconds, MAX_TIMER_SECONDS);
    }
  });
  return copy;
}

/** The task token a Payload template placed with `"<field>.$": "$$.Task.Token"`, read from the Payload. */
function taskTokenIn(template: unknown, payload: unknown): string | undefined {
  if (typeof template !== 'object' || template === null || typeof payload !== 'object' || payload === null) {
    return undefined;
  }
  for (const [key, field] of Object.entries(template)) {
    const value = (payload as Record<string, unknown>)[key.endsWith('.$') ? key.slice(0, -2) : key];
    const token = field === '$$.Task.Token' ? value : taskTokenIn(field, value);
    if (typeof token === 'string') return token;
  }
  return undefined;
}

/** A fresh task token, shaped like Step Functions' (long, opaque, base64). */
const mintTaskToken = () => `AQCEAAAAKgAAAAMAAAAAAAAAA${randomBytes(480).toString('base64')}`;

const isPositiveInteger = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 1;

/** What Step Functions fails an execution with when a path does not resolve as the field needs: uncatchable. */
function statesRuntime(message: string): Error {
  return Object.assign(new Error(message), {
    name: 'States.Runtime',
    isRetryable: false,
    isCatchable: false,
  });
}

let statesTimeout: Promise<new () => Error> | undefined;

/**
 * The executor's own States.Timeout class, which it does not export: it tells a timeout by its class, so that
 * a Retry or Catch on States.TaskFailed does not match one (as in AWS). Taken once from a 1 ms Task timeout.
 */
function statesTimeoutError(): Promise<new () => Error> {
  statesTimeout ??= (async () => {
    const probe = new StateMachine(
      {
        StartAt: 'Probe',
        States: { Probe: { Type: 'Task', Resource: functionArn('probe'), TimeoutSeconds: 0.001, End: true } },
      },
      { validationOptions: { noValidate: true } },
    );
    const execution = probe.run(
      {},
      { overrides: { taskResourceLocalHandlers: { Probe: () => new Promise<never>(() => undefined) } } },
    );
    const failure = await execution.result.then(
      () => undefined,
      (error: unknown) => (error as { cause?: Error }).cause,
    );
    if (failure?.name !== 'States.Timeout') {
      throw new Error('aws-local-stepfunctions no longer times a Task out as the rehearsal expects');
    }
    return failure.constructor as new () => Error;
  })();
  return statesTimeout;
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
    // Parallel branches, and a Map's item processor (ItemProcessor, or Iterator before it): its states run too.
    const nested = [
      ...((state.Branches as Array<Record<string, unknown>> | undefined) ?? []),
      ...[state.ItemProcessor, state.Iterator].filter(
        (definition): definition is Record<string, unknown> =>
          typeof definition === 'object' && definition !== null,
      ),
    ];
    for (const definition of nested) forEachState(definition, visit);
  }
}
