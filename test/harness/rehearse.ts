// `npm run rehearse -- rollback [--scenario NAME]`: runs a runbook offline and prints its timeline.
import { parseArgs } from 'node:util';
import { RollbackRehearsal, type RehearsalResult } from './rollback-rehearsal';
import { findScenario, runScenario, scenarios } from './rollback-scenarios';

const usage = `Usage: npm run rehearse -- rollback [--scenario NAME] [--list] [--verbose]

Runs the real state machine and Lambda code against a simulated AWS account, a simulated Kubernetes API
server and a local Slack receiver, then prints what happened, in order. Nothing leaves this machine.`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    scenario: { type: 'string', default: 'healthy' },
    list: { type: 'boolean' },
    verbose: { type: 'boolean' },
    help: { type: 'boolean' },
  },
});

if (values.help || positionals[0] !== 'rollback') {
  console.log(usage);
  process.exit(values.help ? 0 : 2);
}
if (values.list) {
  for (const scenario of scenarios) console.log(`${scenario.name.padEnd(26)} ${scenario.summary}`);
  process.exit(0);
}

// The handlers' own log lines would bury the timeline; --verbose (or POWERTOOLS_LOG_LEVEL) brings them back.
process.env.POWERTOOLS_LOG_LEVEL ??= values.verbose ? 'INFO' : 'ERROR';
const scenario = findScenario(values.scenario);
const rehearsal = await RollbackRehearsal.start();
try {
  console.log(`rollback · scenario ${scenario.name}\n${scenario.summary}\n`);
  const results = await runScenario(rehearsal, scenario);
  results.forEach((result, index) => print(result, results.length > 1 ? index + 1 : undefined));
  const messages = rehearsal.slack.messages;
  console.log(`Slack messages received: ${messages.length}`);
  for (const message of messages) console.log(`  ${message.body.text}`);
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
  if (patch) console.log(`  alarm event → PATCH: ${patch.at.toFixed(1)} ms`);
  console.log('');
}
