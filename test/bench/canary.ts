// What one canary costs to run, against the rollback runbook: state transitions (Standard workflows bill each
// one), Lambda invocations, GetMetricData requests and the metrics they ask for, and the dollars of one run at
// us-east-1 list prices. Measured by running the real ASL files and handlers in the rehearsal (the same
// definitions `cdk synth` deploys): each scenario once, counted from what the run did, not estimated.
//
// `npm run bench` prints the table; alone: `npx tsx test/bench/canary.ts`.
import { fileURLToPath } from 'node:url';
import type { RunbooksConfig } from '../../lib/config/schema';
import { Rehearsal, type RehearsalResult, type RehearsedRunbook } from '../harness/rehearsal';

/** The states of the canary's hold, entered once a minute while a step holds its weight. */
const HOLD_STATES = new Set(['HoldAMinute', 'ReadAbortRequest', 'AnalyseOrHold']);

/** Step Functions Standard: $0.025 per 1,000 state transitions (us-east-1). */
const PER_TRANSITION = 0.025 / 1_000;
/** Lambda: $0.20 per million requests, and $0.0000166667 per GB-second (x86, us-east-1). */
const PER_INVOCATION = 0.2 / 1_000_000;
const PER_GB_SECOND = 0.0000166667;
/** What a step's Lambda is billed at most often: 256 MB, a billed 100 ms (they answer in milliseconds). */
const INVOCATION_GB_SECONDS = 0.25 * 0.1;
/** CloudWatch GetMetricData: $0.01 per 1,000 metrics requested. */
const PER_METRIC_REQUESTED = 0.01 / 1_000;

export interface RunCost {
  runbook: string;
  scenario: string;
  outcome: string;
  transitions: number;
  /** Of which the canary's holds: the minute loop that reads the lock's abort request. */
  holdTransitions: number;
  invocations: number;
  getMetricData: number;
  metricsRequested: number;
  /** The run's own time, its Waits included (virtual clock), in minutes. */
  minutes: number;
  dollars: number;
}

/** What one run cost, from its result (the rehearsal's) and the GetMetricData calls it made. */
export function runCost(
  runbook: string,
  scenario: string,
  result: RehearsalResult,
  metricCalls: ReadonlyArray<{ queries: number; error?: string }>,
  outcome: string,
  minutes: number,
): RunCost {
  const calls = metricCalls.filter((call) => !call.error);
  // Every query, expressions included: an upper bound on the metrics billed (only metric queries are).
  const metricsRequested = calls.reduce((sum, call) => sum + call.queries, 0);
  // One transition per state entered, the start of the execution included as AWS counts it.
  const transitions = result.states.length + 1;
  const holdTransitions = result.states.filter((state) => HOLD_STATES.has(state)).length;
  const invocations = result.lambdaInvocations.length;
  const dollars =
    transitions * PER_TRANSITION +
    invocations * (PER_INVOCATION + INVOCATION_GB_SECONDS * PER_GB_SECOND) +
    metricsRequested * PER_METRIC_REQUESTED;
  return {
    runbook,
    scenario,
    outcome,
    transitions,
    holdTransitions,
    invocations,
    getMetricData: calls.length,
    metricsRequested,
    minutes,
    dollars,
  };
}

async function measure(runbook: RehearsedRunbook<RunbooksConfig>, scenarios: string[]): Promise<RunCost[]> {
  const rehearsal = await Rehearsal.start(runbook);
  const costs: RunCost[] = [];
  try {
    for (const scenario of scenarios) {
      const clockStart = Date.now();
      const [result] = await rehearsal.runScenario(scenario);
      if (!result) throw new Error(`${runbook.name} ${scenario} ran nothing`);
      const outcome = rehearsal.account.events.at(-1)?.detailType ?? result.status;
      costs.push(
        runCost(
          runbook.name,
          scenario,
          result,
          rehearsal.account.metrics.calls,
          outcome,
          (Date.now() - clockStart) / 60_000,
        ),
      );
    }
  } finally {
    await rehearsal.close();
  }
  return costs;
}

/**
 * The table. `rollback`: the rollback's row when the caller already ran its healthy scenario in this process
 * (npm run bench does, warm); a second rehearsal of it here would meet handlers bound to the first one's peers.
 */
export async function benchCanary(rollback?: RunCost): Promise<string> {
  const canary = (await import('../harness/canary/rehearsal')).rehearsedRunbook;
  const rows = await measure(canary, [
    'healthy-alb',
    'healthy-gateway-api',
    'healthy-replica-ratio',
    'alb-weights-late',
    'fails-at-second-step',
    'approval-granted',
  ]);
  if (rollback) rows.push(rollback);
  else {
    const runbook = (await import('../harness/rollback/rehearsal')).rehearsedRunbook;
    rows.push(...(await measure(runbook as RehearsedRunbook<RunbooksConfig>, ['healthy'])));
  }
  const lines = [
    '\nOne run of each runbook, counted on the real ASL and handlers (rehearsal; us-east-1 list prices: transitions $0.025/1,000, Lambda 256 MB × 100 ms billed, GetMetricData $0.01/1,000 metrics, counted as its queries)',
    '| runbook | scenario | outcome | state transitions | of which the holds | Lambda invocations | GetMetricData calls | queries in them | run time, Waits included (min) | $ per run |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (row) =>
        `| ${row.runbook} | ${row.scenario} | ${row.outcome} | ${row.transitions} | ${row.holdTransitions} | ${row.invocations} | ${row.getMetricData} | ${row.metricsRequested} | ${row.minutes.toFixed(1)} | ${row.dollars.toFixed(5)} |`,
    ),
  ];
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  console.log(await benchCanary());
}
