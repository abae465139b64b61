import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

describe('bin/app.ts', () => {
  it('synthesizes the example configuration, tagged, with cdk-nag finding nothing', () => {
    const outdir = join(mkdtempSync(join(tmpdir(), 'runbooks-app-')), 'cdk.out');
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: {
        ...process.env,
        // What `cdk synth` passes: cdk.json's context, here with bundling skipped.
        CDK_CONTEXT_JSON: JSON.stringify({
          config: 'lib/config/example.yaml',
          'aws:cdk:bundling-stacks': [],
        }),
        CDK_OUTDIR: outdir,
      },
      timeout: 120_000,
    });

    expect(run.stderr).not.toMatch(/AwsSolutions-/);
    expect(run.status).toBe(0);
    const templatePath = join(outdir, 'PlatformRunbooks-prod.template.json');
    expect(existsSync(templatePath)).toBe(true);
    const template = JSON.parse(readFileSync(templatePath, 'utf8')) as {
      Resources: Record<string, { Type: string; Properties?: { Tags?: { Key: string; Value: string }[] } }>;
    };
    const table = Object.values(template.Resources).find(
      (resource) => resource.Type === 'AWS::DynamoDB::Table',
    );
    expect(table?.Properties?.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'app', Value: 'platform-runbooks' },
        { Key: 'environment', Value: 'prod' },
      ]),
    );
  });
});
