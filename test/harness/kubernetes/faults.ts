// Faults injected into the simulated API server: each answers (or delays, or drops) the next matching requests in
// place of the server, for as many requests as it is given.

export interface Fault {
  method?: string;
  pathIncludes?: string;
  /** Answer with this status (and a Status body, unless `body` is given) instead of handling the request. */
  status?: number;
  /** The Status message for `status`; defaults to a generic one per code. */
  message?: string;
  /**
   * Answer this body instead of handling the request, with `status` or 200: an object is sent as JSON (e.g. a
   * schema-invalid Deployment), a string as is (e.g. a load balancer's HTML error page).
   */
  body?: unknown;
  /** Destroy the connection without an answer (the client sees ECONNRESET). */
  reset?: boolean;
  /** Hold the request this long first; without status/body/reset it is then handled normally. */
  delayMs?: number;
  /** How many matching requests it applies to; default 1. */
  times?: number;
}

export class FaultQueue {
  private readonly faults: Array<Fault & { remaining: number }> = [];

  inject(fault: Fault): void {
    this.faults.push({ ...fault, remaining: fault.times ?? 1 });
  }

  /** The first injected fault that matches the request, used up once; faults match in the order injected. */
  take(method: string, path: string): Fault | undefined {
    const index = this.faults.findIndex(
      (fault) =>
        (fault.method === undefined || fault.method.toUpperCase() === method) &&
        (fault.pathIncludes === undefined || path.includes(fault.pathIncludes)),
    );
    const fault = this.faults[index];
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault;
  }

  clear(): void {
    this.faults.length = 0;
  }
}

/** The message a fault's Status carries when it names none: what the real server says for that code. */
export function defaultFaultMessage(code: number): string {
  if (code === 409)
    return 'Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again';
  if (code === 401) return 'Unauthorized';
  if (code === 403)
    return 'forbidden: User "arn:aws:sts::111122223333:assumed-role/runbook/fn" cannot do this';
  if (code >= 500) return 'the server is currently unable to handle the request';
  return `simulated failure ${code}`;
}
