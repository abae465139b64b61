import { z } from 'zod';

/** What every Task passes from the Context object, so logs and messages can name the run. */
export const executionSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  startTime: z.string().min(1),
});
export type Execution = z.infer<typeof executionSchema>;
