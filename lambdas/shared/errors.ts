import { safeParse, type $ZodType, type output } from 'zod/v4/core';
import './zod-messages';

/**
 * The base of every error a workflow routes on by name (`Retry`/`Catch` `ErrorEquals`). Each subclass sets
 * `name` to its own class name as a string literal: class names do not survive minification, literals do
 * (test/conventions/error-names.test.ts checks both). An error it replaces is kept as `cause`.
 */
export abstract class RunbookError extends Error {
  abstract override name: string;

  // Not useless: it narrows Error's signature, so every routed error has a message.
  // eslint-disable-next-line @typescript-eslint/no-useless-constructor
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A Lambda input that does not match its schema: no action is taken, the workflow routes on the name. */
export class InvalidInput extends RunbookError {
  override name = 'InvalidInput';
}

/**
 * Parses `input` with `schema`, or throws `ErrorClass` whose message names every field at fault.
 * Lambda code builds its schemas with `zod/mini` (full zod adds ~440 KB to a bundle).
 */
export function parseOrThrow<T extends $ZodType>(
  schema: T,
  input: unknown,
  what: string,
  ErrorClass: new (message: string) => Error = InvalidInput,
): output<T> {
  const result = safeParse(schema, input);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.length ? issue.path.map(String).join('.') : '(root)'}: ${issue.message}`,
  );
  throw new ErrorClass(`${what} is malformed: ${problems.join('; ')}`);
}
