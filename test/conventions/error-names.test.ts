import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { esbuildOptions } from '../../lib/lambda-bundling';
import { KubernetesApiError } from '../../lambdas/kubernetes/errors';
import { RunbookError } from '../../lambdas/shared/errors';
import {
  errorModules,
  fromRoot,
  lambdaSources,
  loadRunbookErrors,
  repoRoot,
  type ExportedError,
} from './project';

/** What a class takes between its message and its options (a new signature has to be added here). */
const argumentsBeforeOptions: Record<string, unknown[]> = { KubernetesApiError: [422] };

const label = (error: ExportedError): string => `${fromRoot(error.module)} ${error.name}`;

/** One exported RunbookError subclass as the minified bundle sees it. */
interface Bundled {
  module: string;
  exported: string;
  /** `new X('m').name` */
  name: string;
  /** The class's own name after minification. */
  className: string;
}

/**
 * Bundles one module that imports every error module and reports each RunbookError subclass's `name`, with
 * the settings every Lambda is bundled with (lib/lambda-bundling.ts, format ESM as RunbookFunction sets it),
 * and runs it.
 */
async function bundleErrorNames(modules: string[], dir: string): Promise<Bundled[]> {
  const contents = [
    `import { RunbookError } from ${JSON.stringify(join(repoRoot, 'lambdas/shared/errors.ts'))};`,
    ...modules.map((file, index) => `import * as m${index} from ${JSON.stringify(file)};`),
    `const modules = [${modules.map((file, index) => `[${JSON.stringify(fromRoot(file))}, m${index}]`).join(', ')}];`,
    'const found = [];',
    'for (const [module, exports] of modules)',
    '  for (const [exported, value] of Object.entries(exports))',
    "    if (typeof value === 'function' && value.prototype instanceof RunbookError)",
    "      found.push({ module, exported, name: new value('m').name, className: value.name });",
    'console.log(JSON.stringify(found));',
  ].join('\n');
  const outfile = join(dir, 'index.mjs');
  await build({
    stdin: { contents, resolveDir: repoRoot, sourcefile: 'error-names.js', loader: 'js' },
    outfile,
    ...esbuildOptions(),
  });
  const output = execFileSync(process.execPath, [outfile], { encoding: 'utf8', env: {} });
  return JSON.parse(output) as Bundled[];
}

describe('the errors the workflows route on', () => {
  const dir = mkdtempSync(join(tmpdir(), 'error-names-'));
  let errors: ExportedError[];
  let bundled: Promise<Bundled[]>;
  beforeAll(async () => {
    // esbuild works in its own process while this one imports the same modules.
    bundled = bundleErrorNames(errorModules(), dir);
    bundled.catch(() => undefined);
    errors = await loadRunbookErrors();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are found by importing the modules under lambdas/', () => {
    expect(errors.map((error) => error.name)).toEqual(
      expect.arrayContaining([
        'InvalidInput',
        'InvalidSetting',
        'KubernetesConflict',
        'KubernetesApiError',
        'RollbackConflict',
        'LockContention',
        'SlackUnavailable',
      ]),
    );
  });

  it('all extend RunbookError: no class under lambdas/ extends Error directly', () => {
    const direct = lambdaSources().flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/\bclass\s+(\w+)\s+extends\s+Error\b/g)]
        .filter((match) => match[1] !== 'RunbookError')
        .map((match) => `${fromRoot(file)} ${match[1]}`),
    );
    expect(direct).toEqual([]);
  });

  it('each set name to its own class name', () => {
    const wrong = errors.flatMap((error) => {
      const { name } = new error.ErrorClass('m');
      return name === error.name && error.ErrorClass.name === error.name
        ? []
        : [`${label(error)}, class ${error.ErrorClass.name}: name is ${JSON.stringify(name)}`];
    });
    expect(wrong).toEqual([]);
  });

  it('each keep a given cause, and have none unless given one', () => {
    const cause = new Error('the original');
    const wrong = errors.flatMap((error) => {
      const before = argumentsBeforeOptions[error.name] ?? [];
      const wrapped = new error.ErrorClass('m', ...before, { cause });
      const plain = new error.ErrorClass('m', ...before);
      const problems = [
        ...(wrapped.message === 'm' ? [] : [`message is ${JSON.stringify(wrapped.message)}`]),
        ...(wrapped.cause === cause ? [] : ['drops the cause']),
        ...('cause' in plain ? ['has a cause it was not given'] : []),
      ];
      return problems.map((problem) => `${label(error)}: ${problem}`);
    });
    expect(wrong).toEqual([]);
  });

  it("keep KubernetesApiError's status beside the cause", () => {
    const cause = new Error('the original');
    const error = new KubernetesApiError('m', 422, { cause });
    expect(error).toBeInstanceOf(RunbookError);
    expect(error).toMatchObject({ name: 'KubernetesApiError', status: 422, cause });
  });

  it('keep their names in a bundle built with the Lambda bundling settings (minified)', async () => {
    const found = await bundled;
    expect(found.map(({ module, exported, name }) => `${module} ${exported}: ${name}`).sort()).toEqual(
      errors.map((error) => `${label(error)}: ${error.name}`).sort(),
    );
    // The point of the literals: minification renamed the classes themselves.
    expect(found.filter(({ exported, className }) => className !== exported).length).toBeGreaterThan(0);
  });
});
