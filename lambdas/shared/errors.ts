import type { z } from 'zod';

/** A Lambda input that does not match its schema: no action is taken, the workflow routes on the name. */
export class InvalidInput extends Error {
  override name = 'InvalidInput';
}

/** Parses `input` with `schema`, or throws `ErrorClass` whose message names every field at fault. */
export function parseOrThrow<T>(
  schema: z.ZodType<T>,
  input: unknown,
  what: string,
  ErrorClass: new (message: string) => Error = InvalidInput,
): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.length ? issue.path.map(String).join('.') : '(root)'}: ${issue.message}`,
  );
  throw new ErrorClass(`${what} is malformed: ${problems.join('; ')}`);
}
