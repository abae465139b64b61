// What the convention tests read from the source tree: the routed error classes and the function tables.
// CDK-free, so the error-name test does not load aws-cdk-lib.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { RunbookFunctionEntry } from '../../lambdas/shared/function-table';
import { RunbookError } from '../../lambdas/shared/errors';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Every `.ts` file under `lambdas/`, absolute, sorted. */
export function lambdaSources(): string[] {
  const dir = join(repoRoot, 'lambdas');
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(dir, file))
    .sort();
}

/** `path` relative to the repository root, with forward slashes. */
export const fromRoot = (path: string): string => relative(repoRoot, path).split('\\').join('/');

/** A routed error class; `KubernetesApiError` takes its `status` before the options. */
export type RunbookErrorClass = new (message: string, ...rest: unknown[]) => RunbookError;

/** An exported subclass of RunbookError: its export name, the module exporting it (absolute) and the class. */
export interface ExportedError {
  name: string;
  module: string;
  ErrorClass: RunbookErrorClass;
}

const declaresClass = /\bclass\s+\w+\s+extends\s/;

/** The modules under `lambdas/` that declare a class (absolute), except handlers: they read settings on import. */
export function errorModules(): string[] {
  return lambdaSources().filter(
    (file) => !fromRoot(file).includes('/handlers/') && declaresClass.test(readFileSync(file, 'utf8')),
  );
}

/**
 * Imports the `errorModules()` and lists the subclasses of RunbookError each exports. A class re-exported
 * elsewhere is listed once per module that exports it.
 */
export async function loadRunbookErrors(): Promise<ExportedError[]> {
  const errors: ExportedError[] = [];
  for (const module of errorModules()) {
    const exports = (await import(pathToFileURL(module).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(exports)) {
      if (typeof value === 'function' && value.prototype instanceof RunbookError) {
        errors.push({ name, module, ErrorClass: value as RunbookErrorClass });
      }
    }
  }
  return errors;
}

const isEntry = (value: unknown): value is RunbookFunctionEntry =>
  typeof value === 'object' &&
  value !== null &&
  ['handler', 'serviceName', 'substitution', 'description'].every(
    (key) => typeof (value as Record<string, unknown>)[key] === 'string',
  );

/**
 * Every entry of every function table (`lambdas/<folder>/functions.ts`): an export is an entry itself (the
 * notifier's) or a table of entries (a runbook's).
 */
export async function loadFunctionEntries(): Promise<RunbookFunctionEntry[]> {
  const dir = join(repoRoot, 'lambdas');
  const sources = new Set(lambdaSources());
  const tables = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(dir, entry.name, 'functions.ts'))
    .filter((file) => sources.has(file));
  const entries: RunbookFunctionEntry[] = [];
  for (const file of tables) {
    const exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    for (const value of Object.values(exports)) {
      if (isEntry(value)) entries.push(value);
      else if (typeof value === 'object' && value !== null)
        entries.push(...Object.values(value).filter(isEntry));
    }
  }
  return entries;
}
