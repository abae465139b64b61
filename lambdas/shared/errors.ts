import { safeParse, type $ZodType, type output } from 'zod/v4/core';
import './zod-messages';

/** A Lambda input that does not match its schema: no action is taken, the workflow routes on the name. */
export class InvalidInput extends Error {
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
