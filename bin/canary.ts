// `npm run canary -- <command> <service> [options]`: start a canary, follow it, answer its approval, abort it.
// Each command is a function taking its clients (tests call them with dynalite and mocked clients); `main`
// parses the command line, reads the configuration and builds the real clients.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SFNClient } from '@aws-sdk/client-sfn';
import { execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { answerApproval, answerText } from '../lambdas/canary/answer-approval';
import {
  CANARY_REQUESTED,
  readCanaryRequest,
  type CanaryRequestDetail,
  type CanaryRequestSource,
} from '../lambdas/canary/request';
import { finalPhases, formatDuration, formatStatus } from '../lambdas/canary/status';
import { RunbookError } from '../lambdas/shared/errors';
import { CanaryLock, type CanaryLockState } from '../lambdas/workload-lock/canary-lock';
import type { CanaryService } from '../lib/config/canary';
import { ConfigError, loadConfig } from '../lib/config/load';

export type ExitCode = 0 | 1 | 2;

/** The command was called wrongly (a missing argument, an unknown option): exit 2. */
export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

/** Where a command writes: the tests capture it. */
export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
  /** ANSI colours in `status`: only on a terminal. */
  colour: boolean;
}

/** What every command knows: the configured services, who runs it, the clock, where it writes. */
export interface CliContext {
  /** The configured services by name. */
  services: Readonly<Record<string, CanaryService>>;
  /** Who runs the command: recorded as `cli:<user>`. */
  user: string;
  now: () => Date;
  output: CliOutput;
}

const SOURCE: CanaryRequestSource = 'platform-runbooks.cli';

/** The lock key of a service's canary: its stable Deployment, the key the rollback's alarms map to. */
export const workloadOf = (service: CanaryService): string =>
  `${service.cluster}/${service.namespace}/${service.stableDeployment}`;

function serviceNamed(context: CliContext, name: string): CanaryService {
  const service = Object.hasOwn(context.services, name) ? context.services[name] : undefined;
  if (service === undefined) {
    const configured = Object.keys(context.services).sort();
    throw new CliUsageError(
      `service "${name}" is not configured for canaries; configured: ${configured.length > 0 ? configured.join(', ') : '(none)'}`,
    );
  }
  return service;
}

export interface StartOptions {
  image: string;
  container?: string;
  /** The commit the image was built from. */
  reference: string;
  intervalMinutes?: number;
}

/**
 * Puts a `CanaryRequested` event on the runbooks bus, once the runbook's own reading of it accepts it here: a
 * malformed request is refused before anything is sent, naming the field.
 */
export async function startCommand(
  context: CliContext,
  { events, busName }: { events: EventBridgeClient; busName: string },
  serviceName: string,
  options: StartOptions,
): Promise<ExitCode> {
  const { output } = context;
  serviceNamed(context, serviceName);
  const detail: CanaryRequestDetail = {
    service: serviceName,
    image: options.image,
    ...(options.container === undefined ? {} : { container: options.container }),
    requestedBy: `cli:${context.user}`,
    reference: options.reference,
    ...(options.intervalMinutes === undefined
      ? {}
      : { overrides: { intervalMinutes: options.intervalMinutes } }),
  };
  // The envelope is this check's own: the runbook checks account and region against the real event.
  readCanaryRequest(
    {
      id: 'cli-check',
      'detail-type': CANARY_REQUESTED,
      source: SOURCE,
      account: '000000000000',
      region: 'cli',
      time: context.now().toISOString(),
      detail,
    },
    { account: '000000000000', region: 'cli', services: context.services },
  );
  const answer = await events.send(
    new PutEventsCommand({
      Entries: [
        {
          EventBusName: busName,
          Source: SOURCE,
          DetailType: CANARY_REQUESTED,
          Detail: JSON.stringify(detail),
        },
      ],
    }),
  );
  // PutEvents answers 200 even when it refuses the entry: the refusal is in the entry.
  const [entry] = answer.Entries ?? [];
  if ((answer.FailedEntryCount ?? 0) > 0 || entry?.EventId === undefined) {
    output.err(
      `CanaryRequested was not put on ${busName}: ${entry?.ErrorCode ?? 'no event id returned'}${entry?.ErrorMessage ? ` (${entry.ErrorMessage})` : ''}`,
    );
    return 1;
  }
  output.out(
    `CanaryRequested for ${serviceName} put on ${busName} (event ${entry.EventId}): ${options.image} at ${options.reference}.\nFollow it with: npm run canary -- status ${serviceName}`,
  );
  return 0;
}

/** Prints the service's canary status: the run in progress, or the last run's outcome. */
export async function statusCommand(
  context: CliContext,
  { lock }: { lock: CanaryLock },
  serviceName: string,
): Promise<ExitCode> {
  const { output } = context;
  const service = serviceNamed(context, serviceName);
  const workload = workloadOf(service);
  const state = await lock.read(workload);
  const now = context.now();
  for (const line of lockNotes(state, now)) output.out(line);
  if (state.status === undefined) {
    if (state.statusUnreadable !== undefined) {
      output.err(`The last status of ${serviceName} is unreadable (${state.statusUnreadable}).`);
      return 1;
    }
    output.out(
      state.holder === 'canary'
        ? `A canary of ${serviceName} is starting (${state.holderExecution ?? 'unknown execution'}); it has not written its status yet.`
        : `No canary of ${serviceName} has run (on ${workload}).`,
    );
    return 0;
  }
  const { status } = state;
  if (state.holder === 'canary' && state.holderExecution !== status.executionArn) {
    output.out(`A new run (${state.holderExecution}) is starting; the last run was:\n`);
  } else if (!finalPhases.includes(status.phase) && state.holderExecution !== status.executionArn) {
    output.out(
      'This run no longer holds the lock: it ended without writing its outcome (see its execution in Step Functions).\n',
    );
  }
  output.out(formatStatus(status, now, { colour: output.colour }));
  return 0;
}

/** What the lock item says beyond the status: who holds it, an abort asked, an approval waiting. */
function lockNotes(state: CanaryLockState, now: Date): string[] {
  const notes: string[] = [];
  if (state.holder === 'rollback') {
    notes.push(`A rollback holds this workload now (${state.holderExecution ?? 'unknown execution'}).`);
  }
  if (state.holder !== 'canary') return notes;
  if (state.abortRequested !== undefined) {
    const { reason, by, at } = state.abortRequested;
    notes.push(
      `Abort requested by ${by} at ${at}: ${reason}. The run aborts at its next check, within about a minute while a step holds its weight.`,
    );
  }
  const { approval } = state;
  if (approval !== undefined && approval.decision === undefined) {
    const left = Date.parse(approval.timeoutAt) - now.getTime();
    const service = state.holderService ?? '<service>';
    notes.push(
      `Waiting for approval (${approval.kind}) for ${formatDuration(left)} more, until ${approval.timeoutAt}: npm run canary -- approve ${service} | reject ${service}`,
    );
  } else if (approval?.decision !== undefined) {
    notes.push(`Approval answered: ${approval.decision} by ${approval.decidedBy ?? 'unknown'}.`);
  }
  return notes.length > 0 ? [...notes, ''] : notes;
}

/** Approves or rejects the approval the service's run waits for. */
export async function answerCommand(
  context: CliContext,
  { lock, sfn }: { lock: CanaryLock; sfn: SFNClient },
  serviceName: string,
  decision: 'approve' | 'reject',
  as?: string,
): Promise<ExitCode> {
  const service = serviceNamed(context, serviceName);
  const result = await answerApproval({
    lock,
    sfn,
    workload: workloadOf(service),
    decision,
    by: `cli:${as ?? context.user}`,
    at: context.now(),
  });
  const text = answerText(result);
  if (result.outcome === 'delivered') {
    context.output.out(text);
    return 0;
  }
  context.output.err(text);
  return 1;
}

/**
 * Asks the service's running canary to abort; its next check does (all traffic back to stable). A run that
 * waits for approval is also rejected, so it does not wait out the approval's timeout first.
 */
export async function abortCommand(
  context: CliContext,
  { lock, sfn }: { lock: CanaryLock; sfn: SFNClient },
  serviceName: string,
  reason = 'aborted from the CLI',
): Promise<ExitCode> {
  const { output } = context;
  const service = serviceNamed(context, serviceName);
  const workload = workloadOf(service);
  const by = `cli:${context.user}`;
  const requested = await lock.requestAbort(workload, { reason, by, at: context.now() });
  if (!requested.requested) {
    output.err(`Nothing to abort: ${requested.detail}`);
    return 1;
  }
  const first = requested.abortRequested;
  output.out(
    first.by === by && first.reason === reason
      ? `Abort of ${serviceName} requested (${requested.holderExecution}): it aborts at its next check, within about a minute while a step holds its weight, and sends all traffic back to stable.`
      : `An abort of ${serviceName} was already requested by ${first.by} at ${first.at}: ${first.reason}. It aborts at its next check.`,
  );
  const state = await lock.read(workload);
  if (state.approval !== undefined && state.approval.decision === undefined) {
    const rejected = await answerApproval({
      lock,
      sfn,
      workload,
      decision: 'reject',
      by,
      at: context.now(),
      executionArn: requested.holderExecution,
    });
    output.out(`It was waiting for approval: ${answerText(rejected)}`);
  }
  return 0;
}

export const USAGE = `Usage: npm run canary -- <command> <service> [options]

Commands:
  start <service> --image <ref> [--container <name>] [--reference <commit>] [--interval-minutes <n>]
                  put a CanaryRequested event on the runbooks bus (--reference: the commit built,
                  default: this checkout's HEAD)
  status <service>                      the run in progress or the last run: steps, weight, checks, next analysis
  approve <service> [--as <name>]       approve the approval the run waits for
  reject <service> [--as <name>]        reject it: the run aborts
  abort <service> [--reason <text>]     abort the run at its next check (and reject a pending approval)

Options:
  --config <file>   the configuration (default lib/config/example.yaml)
  --table <name>    the workload lock table: output WorkloadLockTableName of stack PlatformRunbooks-<environment>;
                    needed by status, approve, reject and abort
  --bus <name>      the runbooks bus (default platform-runbooks-<environment>)
  --help            this text

Exit codes: 0 done, 1 refused or failed, 2 wrong usage.`;

const COMMANDS = ['start', 'status', 'approve', 'reject', 'abort'] as const;
type Command = (typeof COMMANDS)[number];

/** The clients the commands use; `main` builds the real ones for the configuration's region. */
export interface CliClients {
  dynamodb: DynamoDBClient;
  sfn: SFNClient;
  events: EventBridgeClient;
}

export interface MainOptions {
  output: CliOutput;
  clients?: (region: string | undefined) => CliClients;
  user?: string;
  now?: () => Date;
  /** The commit `start` names when no --reference is given. */
  headCommit?: () => string;
}

/** Runs one command line (without `node` and the script); returns the exit code. */
export async function main(argv: readonly string[], options: MainOptions): Promise<ExitCode> {
  const { output } = options;
  try {
    return await run(argv, options);
  } catch (error) {
    if (error instanceof CliUsageError) {
      output.err(`${error.message}\n(npm run canary -- --help for the commands and options)`);
      return 2;
    }
    if (error instanceof ConfigError || error instanceof RunbookError) {
      output.err(error.message);
      return 1;
    }
    // An AWS error (no credentials, access denied, a missing table): its name and message say what is wrong.
    output.err(`${(error as Error).name}: ${(error as Error).message}`);
    return 1;
  }
}

async function run(argv: readonly string[], options: MainOptions): Promise<ExitCode> {
  const { values, positionals } = parseCommandLine(argv);
  if (values.help) {
    options.output.out(USAGE);
    return 0;
  }
  const [command, serviceName, ...extra] = positionals;
  if (command === undefined) throw new CliUsageError('no command given');
  if (!(COMMANDS as readonly string[]).includes(command))
    throw new CliUsageError(`unknown command "${command}"`);
  if (serviceName === undefined) throw new CliUsageError(`${command} needs a service`);
  if (extra.length > 0) throw new CliUsageError(`unexpected argument "${extra[0]}"`);
  checkOptionsFor(command as Command, values);

  const config = loadConfig(values.config);
  if (config.canary === undefined) {
    throw new ConfigError(`${values.config} has no canary section: no service is configured for canaries`);
  }
  const context: CliContext = {
    services: Object.fromEntries(config.canary.services.map((service) => [service.name, service])),
    user: options.user ?? userInfo().username,
    now: options.now ?? (() => new Date()),
    output: options.output,
  };
  const clients = (options.clients ?? realClients)(config.region);
  const table = () => {
    if (values.table === undefined) {
      throw new CliUsageError(
        `--table is required for ${command}: the lock table's name is generated by CloudFormation; it is the output WorkloadLockTableName of stack PlatformRunbooks-${config.environment}: aws cloudformation describe-stacks --stack-name PlatformRunbooks-${config.environment} --query "Stacks[0].Outputs[?OutputKey=='WorkloadLockTableName'].OutputValue" --output text`,
      );
    }
    return new CanaryLock(clients.dynamodb, values.table);
  };

  switch (command as Command) {
    case 'start': {
      const image = values.image;
      if (image === undefined) throw new CliUsageError('start needs --image <ref>');
      return startCommand(
        context,
        { events: clients.events, busName: values.bus ?? `platform-runbooks-${config.environment}` },
        serviceName,
        {
          image,
          reference: values.reference ?? (options.headCommit ?? gitHead)(),
          ...(values.container === undefined ? {} : { container: values.container }),
          ...(values['interval-minutes'] === undefined
            ? {}
            : { intervalMinutes: minutes(values['interval-minutes']) }),
        },
      );
    }
    case 'status':
      return statusCommand(context, { lock: table() }, serviceName);
    case 'approve':
    case 'reject':
      return answerCommand(
        context,
        { lock: table(), sfn: clients.sfn },
        serviceName,
        command as 'approve' | 'reject',
        values.as,
      );
    case 'abort':
      return abortCommand(context, { lock: table(), sfn: clients.sfn }, serviceName, values.reason);
  }
}

function parseCommandLine(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string', default: 'lib/config/example.yaml' },
        table: { type: 'string' },
        bus: { type: 'string' },
        image: { type: 'string' },
        container: { type: 'string' },
        reference: { type: 'string' },
        'interval-minutes': { type: 'string' },
        as: { type: 'string' },
        reason: { type: 'string' },
        help: { type: 'boolean' },
      },
    });
  } catch (error) {
    // parseArgs names the option: "Unknown option '--imge'", "Option '--image <value>' argument missing".
    throw new CliUsageError((error as Error).message);
  }
}

/** The options only one command takes, refused on another (a misplaced --as is a mistake, not a no-op). */
const ONLY_FOR: Record<string, readonly Command[]> = {
  image: ['start'],
  container: ['start'],
  reference: ['start'],
  'interval-minutes': ['start'],
  bus: ['start'],
  as: ['approve', 'reject'],
  reason: ['abort'],
};

function checkOptionsFor(command: Command, values: Record<string, unknown>): void {
  for (const [option, commands] of Object.entries(ONLY_FOR)) {
    if (values[option] !== undefined && !commands.includes(command)) {
      throw new CliUsageError(`--${option} is not an option of ${command} (only of ${commands.join(', ')})`);
    }
  }
}

function minutes(text: string): number {
  if (!/^\d+$/.test(text))
    throw new CliUsageError(`--interval-minutes must be a whole number, not "${text}"`);
  return Number(text);
}

function gitHead(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    throw new CliUsageError(
      'start needs --reference <commit>: this directory is not a git checkout to take HEAD from',
    );
  }
}

function realClients(region: string | undefined): CliClients {
  const options = region === undefined ? {} : { region };
  return {
    dynamodb: new DynamoDBClient(options),
    sfn: new SFNClient(options),
    events: new EventBridgeClient(options),
  };
}

// Run as a script (`tsx bin/canary.ts`), not when a test imports the command functions.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const code = await main(process.argv.slice(2), {
    output: {
      out: (text) => process.stdout.write(`${text}\n`),
      err: (text) => process.stderr.write(`${text}\n`),
      colour: process.stdout.isTTY === true,
    },
  });
  process.exitCode = code;
}
