import * as z from 'zod/mini';

/** What every Task passes from the Context object, so logs and messages can name the run. */
export const executionSchema = z.object({
  id: z.string().check(z.minLength(1)),
  name: z.string().check(z.minLength(1)),
  startTime: z.string().check(z.minLength(1)),
});
export type Execution = z.output<typeof executionSchema>;
