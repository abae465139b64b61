import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import {
  canaryStatusSchema,
  formatDuration,
  formatStatus,
  type CanaryStatus,
} from '../../lambdas/canary/status';

const NOW = new Date('2026-11-22T03:16:48Z');

const running: CanaryStatus = {
  service: 'checkout',
  runId: 'release-42',
  executionArn: 'arn:aws:states:eu-west-1:111122223333:execution:platform-runbooks-prod-canary:release-42',
  phase: 'analysing',
  steps: [5, 20, 50, 100],
  stepIndex: 1,
  weight: 20,
  failures: 1,
  threshold: 2,
  intervalSeconds: 300,
  nextAnalysisAt: '2026-11-22T03:20:00.000Z',
  updatedAt: '2026-11-22T03:16:00.000Z',
  requestedBy: 'github-actions:acme/checkout',
  reference: '3f2c1a9e8b7d6c5f4e3a2b1c0d9e8f7a6b5c4d3e',
  canaryImages: ['registry.example.com/checkout-api:1.42.0'],
  stableImages: ['registry.example.com/checkout-api:1.41.0'],
  checks: [
    {
      name: 'error-rate',
      status: 'passed',
      canary: 0.0021,
      stable: 0.0012,
      limit: '≤ 0.01',
      reason: 'error-rate 0.0021 ≤ 0.01',
    },
    {
      name: 'p99-latency',
      status: 'failed',
      canary: 0.912345,
      stable: 0.41,
      limit: '≤ 1.5 × stable',
      reason: 'p99-latency 0.9123 > 1.5 × stable 0.41 = 0.615',
    },
    { name: 'saturation', status: 'no-data', limit: '≤ 0.8', reason: 'no canary datapoints' },
  ],
};

describe('the canary status record', () => {
  it('is parsed at the boundary: a phase it does not know, or a timestamp that is none, is refused', () => {
    expect(z.safeParse(canaryStatusSchema, running).success).toBe(true);
    expect(z.safeParse(canaryStatusSchema, { ...running, phase: 'dancing' }).success).toBe(false);
    expect(z.safeParse(canaryStatusSchema, { ...running, updatedAt: 'yesterday' }).success).toBe(false);
    expect(
      z.safeParse(canaryStatusSchema, {
        ...running,
        checks: [{ name: 'x', status: 'passed', limit: '≤ 1', reason: 'ok', canary: '1' }],
      }).success,
    ).toBe(false);
  });
});

describe('a duration on a status line', () => {
  it.each([
    [0, '0s'],
    [45_000, '45s'],
    [192_000, '3m12s'],
    [3_900_000, '1h05m'],
    [-5_000, '0s'],
  ])('%d ms reads %s', (milliseconds, text) => {
    expect(formatDuration(milliseconds)).toBe(text);
  });
});

describe('the status as `npm run canary -- status` prints it', () => {
  it('shows the run, its images, each step with the current one marked, the analysis and the time to the next', () => {
    expect(formatStatus(running, NOW)).toBe(
      [
        'Name:           checkout',
        `Run:            release-42 (${running.executionArn})`,
        'Phase:          analysing',
        'Requested by:   github-actions:acme/checkout (commit 3f2c1a9e8b7d)',
        'Images:         stable  registry.example.com/checkout-api:1.41.0',
        '                canary  registry.example.com/checkout-api:1.42.0',
        'Weight:         20 % canary, 80 % stable',
        'Steps:',
        '  ✔ step 1  5 %',
        '  ● step 2  20 %  ← current',
        '  ○ step 3  50 %',
        '  ○ step 4  100 %',
        'Failures:       1 of 2 (the run aborts at 2 failed analyses)',
        'Interval:       5m00s',
        'Next analysis:  in 3m12s (2026-11-22T03:20:00.000Z)',
        'Checks (last analysis):',
        '  ✔ error-rate   canary 0.0021  stable 0.0012  limit ≤ 0.01  passed: error-rate 0.0021 ≤ 0.01',
        '  ✖ p99-latency  canary 0.9123  stable 0.41  limit ≤ 1.5 × stable  failed: p99-latency 0.9123 > 1.5 × stable 0.41 = 0.615',
        '  ? saturation   canary —  stable —  limit ≤ 0.8  no-data: no canary datapoints',
        'Updated:        48s ago (2026-11-22T03:16:00.000Z)',
      ].join('\n'),
    );
  });

  it('says an analysis is late rather than counting down past it', () => {
    const late = formatStatus(running, new Date('2026-11-22T03:20:30Z'));
    expect(late).toContain('Next analysis:  due now (30s late) (2026-11-22T03:20:00.000Z)');
  });

  it('shows a promoted run with every step done, its outcome, and no next analysis', () => {
    const promoted = formatStatus(
      {
        ...running,
        phase: 'promoted',
        stepIndex: 3,
        weight: 0,
        outcome: { kind: 'promoted', reason: 'every step passed', at: '2026-11-22T03:40:00.000Z' },
      },
      NOW,
    );
    expect(promoted).toContain('  ✔ step 4  100 %');
    expect(promoted).not.toMatch(/[●○]/);
    expect(promoted).not.toContain('Next analysis');
    expect(promoted).toContain('Outcome:        promoted at 2026-11-22T03:40:00.000Z: every step passed');
  });

  it('shows a run before its first shift with every step pending and no analysis yet', () => {
    const starting = formatStatus(
      { ...running, phase: 'smoke-test', stepIndex: -1, weight: 0, checks: [] },
      NOW,
    );
    expect(starting.match(/○ step/g)).toHaveLength(4);
    expect(starting).toContain('Checks:         not analysed yet');
  });

  it('is plain text unless colours are asked for (a terminal)', () => {
    // ESC, the start of every ANSI sequence.
    const escape = String.fromCharCode(27);
    expect(formatStatus(running, NOW)).not.toContain(escape);
    const coloured = formatStatus(running, NOW, { colour: true });
    expect(coloured).toContain(`${escape}[31m✖${escape}[0m`);
    expect(coloured).toContain(`${escape}[33manalysing${escape}[0m`);
  });
});
