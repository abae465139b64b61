import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { createRunbookCommons } from '../../lib/runbook-commons';
import { RunbookStateMachine, substitutionsUsed } from '../../lib/runbook-state-machine';
import { exampleConfig } from './synth';
import { parseConfig } from '../../lib/config/load';

function definitionFile(definition: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'asl-')), 'probe.asl.json');
  writeFileSync(file, typeof definition === 'string' ? definition : JSON.stringify(definition));
  return file;
}

function build(definitionPath: string) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Probe');
  const commons = createRunbookCommons(stack, parseConfig(exampleConfig(), 'example'));
  return new RunbookStateMachine(stack, 'Probe', {
    runbook: 'probe',
    shared: commons.resources,
    definitionPath,
    functions: [],
    timeout: Duration.minutes(1),
    trigger: { kind: 'event', description: 'probe', eventPattern: { source: ['probe'] } },
  });
}

describe('RunbookStateMachine', () => {
  it('refuses at synth an ASL file that uses a substitution nobody provides, naming it', () => {
    const path = definitionFile({
      StartAt: 'Wait',
      States: { Wait: { Type: 'Wait', Seconds: '${PollSeconds}', End: true } },
    });
    expect(() => build(path)).toThrow(/uses \$\{PollSeconds\}, which the probe runbook does not provide/);
  });

  it('refuses a definition that is not JSON, naming the file', () => {
    const path = definitionFile('{ "StartAt": ');
    expect(() => build(path)).toThrow(/probe\.asl\.json is not JSON/);
  });

  it('accepts the substitutions the kit always provides', () => {
    const path = definitionFile({
      StartAt: 'Done',
      States: {
        Done: { Type: 'Pass', Result: '${EnvironmentName} ${EventBusName} ${OnCallTopicArn}', End: true },
      },
    });
    expect(build(path).stateMachine.stateMachineName).toBeDefined();
  });

  it('finds every placeholder of a definition, once', () => {
    expect([...substitutionsUsed('${A} x ${B_2} ${A} $notOne {C}')]).toEqual(['A', 'B_2']);
  });
});
