// `npm run rehearse -- <runbook> [--scenario NAME] [--list]`: runs a runbook offline and prints its timeline.
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Rehearsal, type RehearsalResult, type RehearsedRunbook } from './rehearsal';

const harness = fileURLToPath(new URL('.', import.meta.url));
/** Every runbook that ships a `test/harness/<runbook>/rehearsal.ts`; nothing else lists them. */
const runbooks = readdirSync(harness, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(`${harness}${entry.name}/rehearsal.ts`))
  .map((entry) => entry.name)
  .sort();

const usage = `Usage: npm run rehearse -- <runbook> [--scenario NAME] [--list] [--verbose]
Runbooks: ${runbooks.join(', ')}

Runs the real state machine and Lambda code against a simulated AWS account, simulated Kubernetes API
servers and a local Slack receiver, then prints what happened, in order. Nothing leaves this machine.
Without --scenario, the runbook's first scenario runs.`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    scenario: { type: 'string' },
    list: { type: 'boolean' },
    verbose: { type: 'boolean' },
    help: { type: 'boolean' },
  },
});

const name = positionals[0];
if (values.help || name === undefined || !runbooks.includes(name)) {
  if (name !== undefined && !values.help) console.error(`Unknown runbook "${name}".\n`);
  console.log(usage);
  process.exit(values.help ? 0 : 2);
}
const { rehearsedRunbook } = (await import(`${harness}${name}/rehearsal.ts`)) as {
  rehearsedRunbook: RehearsedRunbook;
};
if (values.list) {
  for (const scenario of rehearsedRunbook.scenarios)
    console.log(`${scenario.name.padEnd(26)} ${scenario.summary}`);
  process.exit(0);
}

// The handlers' own log lines would bury the timeline; --verbose (or POWERTOOLS_LOG_LEVEL) brings them back.
process.env.POWERTOOLS_LOG_LEVEL ??= values.verbose ? 'INFO' : 'ERROR';
// So would the Embedded Metric Format lines a runbook publishes (one per certificate); --verbose shows them.
if (!values.verbose) process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
const scenarioName = values.scenario ?? rehearsedRunbook.scenarios[0]?.name ?? '';
// A scenario with its own configuration (a VPC, say) is rehearsed with it.
const chosen = rehearsedRunbook.scenarios.find((candidate) => candidate.name === scenarioName);
const rehearsal = await Rehearsal.start(rehearsedRunbook, chosen?.config?.(rehearsedRunbook.defaultConfig()));
try {
  const scenario = rehearsal.scenario(scenarioName);
  console.log(`${name} · scenario ${scenario.name}\n${scenario.summary}\n`);
  const results = await rehearsal.runScenario(scenario);
  results.forEach((result, index) => print(result, results.length > 1 ? index + 1 : undefined));
  const messages = rehearsal.slack.messages;
  console.log(`Slack messages received: ${messages.length}`);
  for (const message of messages) console.log(`  ${message.body.text}`);
  // Slack-app mode (the canary): messages posted and updated through the Web API.
  const posted = rehearsal.slack.api.messages;
  if (posted.length > 0) {
    console.log(`Slack app messages: ${posted.length}`);
    for (const message of posted) {
      const text = (message.current as { text?: string }).text ?? '';
      console.log(
        `  ${message.threadTs ? '  ↳ ' : ''}${text}${message.updates.length ? ` (updated ${message.updates.length}×)` : ''}`,
      );
    }
  }
  console.log(
    `Lifecycle events: ${rehearsal.account.events.map((event) => event.detailType).join(', ') || 'none'}`,
  );
  console.log(`Pages to on-call: ${rehearsal.account.pages.length}`);
} finally {
  await rehearsal.close();
}

function print(result: RehearsalResult, execution?: number): void {
  const heading = execution === undefined ? 'Execution' : `Execution ${execution}`;
  const failure = result.error ? ` (${result.error.name})` : '';
  console.log(`${heading}: ${result.status}${failure}`);
  for (const entry of result.timeline) {
    console.log(`  ${entry.at.toFixed(1).padStart(8)} ms  ${entry.source.padEnd(13)} ${entry.text}`);
  }
  const patch = result.timeline.find(
    (entry) => entry.source === 'kubernetes' && entry.text.includes('PATCH'),
  );
  if (patch) console.log(`  event → PATCH: ${patch.at.toFixed(1)} ms`);
  console.log('');
}
