/**
 * The message inside a Step Functions error's `Cause`: a Lambda error's Cause is the JSON document
 * `{"errorType","errorMessage","trace"}`; any other Cause (a States.Timeout's text) is shown as it is.
 */
export function causeMessage(cause: string): string {
  try {
    const parsed: unknown = JSON.parse(cause);
    if (typeof parsed === 'object' && parsed !== null && 'errorMessage' in parsed) {
      if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
    }
  } catch {
    // Not a Lambda error document: shown as it is.
  }
  return cause.trim();
}
