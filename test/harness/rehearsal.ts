import { readFileSync } from 'node:fs';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { fileURLToPath } from 'node:url';
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
  lambdaInvocations: Array<{ name: string; at: number; ms: number; error?: string }>;
  timeline: TimelineEntry[];
  /** `timelineNow()` when the event entered the state machine. */
  startedAt: number;
}

export interface RunOptions {
  /** Replace a Task by state name (a fault that only a replaced step can produce). */
  overrides?: Record<string, TaskOverride>;
  executionName?: string;
}

/**
 * A runbook, offline: the real ASL file executed by aws-local-stepfunctions, its Task states bound to the real
 * handler modules of its function table, AWS reached through the simulated account, Kubernetes through a
 * simulated API server per configured cluster over HTTPS, Slack through a real HTTP receiver. Retry pauses
 * run at zero; Waits take no real time but move the virtual clock on by their duration (virtual-clock.ts).
 */
export class Rehearsal<C extends RehearsalConfig = RehearsalConfig> {
  private executions = 0;
  private readonly cleanups: Array<() => void | Promise<void>> = [];
  private readonly timelineSources: TimelineSource[] = [];

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
    const machine = new StateMachine(definition as unknown as StateMachineDefinition, {
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
    const invocations: RehearsalResult['lambdaInvocations'] = [];
    const timeline: TimelineEntry[] = [];
    const since = (at: number) => at - startedAt;

    const taskResourceLocalHandlers: NonNullable<LocalHandlers> = {};
    const waitTimeOverrides: Record<string, number> = {};
    const retryIntervalOverrides: Record<string, number> = {};
    forEachState(this.definition, (name, state) => {
      if (state.Type === 'Wait') {
        // Read by the executor each time the Wait runs: the clock moves on by the wait, no real time passes.
        const seconds = waitSeconds(name, state, this.definition);
        Object.defineProperty(waitTimeOverrides, name, {
          enumerable: true,
          get: () => {
            advanceVirtualClock(seconds);
            return 0;
          },
        });
      }
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
              at: since(timelineNow()),
              source: 'aws',
              text: `${name} failed: ${(error as Error).message}`,
            });
            throw error;
          }
        }
        const at = timelineNow();
        const began = performance.now();
        const fn = resource.split(':').pop() ?? resource;
        try {
          // Lambda serialises the payload both ways; so does the rehearsal.
          const result = (await (invoke as Handler)(JSON.parse(JSON.stringify(input)))) as unknown;
          invocations.push({ name: fn, at: since(at), ms: performance.now() - began });
          return JSON.parse(JSON.stringify(result ?? null)) as never;
        } catch (error) {
          const failure = error as Error;
          invocations.push({ name: fn, at: since(at), ms: performance.now() - began, error: failure.name });
          throw lambdaError(failure);
        }
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

  private collectTimeline(result: RehearsalResult, startedAt: number, wallStart: number): void {
    for (const source of this.timelineSources) result.timeline.push(...source(wallStart));
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
 * How long a Wait state waits: its `Seconds`, or for `SecondsPath: $.settings.<key>` the number a Pass
 * state's `settings.<key>.$: States.StringToJson('<n>')` parses from its substitution (the runbooks'
 * convention for timings). Anything else is refused, so a rehearsal never silently waits zero.
 */
function waitSeconds(
  name: string,
  state: Record<string, unknown>,
  definition: Record<string, unknown>,
): number {
  if (typeof state.Seconds === 'number') return state.Seconds;
  const key = /^\$\.settings\.(\w+)$/.exec(String(state.SecondsPath))?.[1];
  let found: number | undefined;
  forEachState(definition, (_name, candidate) => {
    const settings = (candidate.Parameters as { settings?: Record<string, unknown> } | undefined)?.settings;
    const expression = key === undefined ? undefined : settings?.[`${key}.$`];
    const literal = /^States\.StringToJson\('(\d+)'\)$/.exec(String(expression))?.[1];
    if (literal !== undefined) found = Number(literal);
  });
  if (found === undefined || !Number.isFinite(found)) {
    throw new Error(
      `Wait state ${name}: cannot tell how long it waits (Seconds, or SecondsPath $.settings.<key>)`,
    );
  }
  return found;
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
