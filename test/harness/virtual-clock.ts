// The rehearsal's clock. Its Wait states take no real time, but the runbooks bound their waits by the clock
// (a rollout deadline, a recovery window): each Wait moves this clock on by its duration instead, so a
// 15-minute wait is rehearsed in milliseconds and still ends by its deadline. Everything in the process that
// asks `Date` (the handlers, the simulated API server's token check, the executor) sees the same time.

const RealDate = Date;
let offsetMs = 0;

class VirtualDate extends RealDate {
  constructor(...args: ConstructorParameters<DateConstructor> | []) {
    if (args.length === 0) super(RealDate.now() + offsetMs);
    else super(...(args as ConstructorParameters<DateConstructor>));
  }

  static override now(): number {
    return RealDate.now() + offsetMs;
  }
}

let installed = 0;

/** Replaces `Date` for the process until every `uninstall`; nested rehearsals share one clock. */
export function installVirtualClock(): void {
  if (installed === 0) globalThis.Date = VirtualDate as DateConstructor;
  installed += 1;
}

export function uninstallVirtualClock(): void {
  installed = Math.max(0, installed - 1);
  if (installed === 0) globalThis.Date = RealDate;
}

/** Moves the clock on, as a Wait state of `seconds` would. */
export function advanceVirtualClock(seconds: number): void {
  offsetMs += seconds * 1000;
}

/**
 * A monotonic clock in milliseconds on the rehearsal's timeline: `performance.now()` plus the time the Waits
 * have added. The simulated peers stamp what they receive with it, so their lines and the state machine's
 * (stamped with the virtual `Date`) sort into one timeline. Without a rehearsal it is `performance.now()`.
 */
export function timelineNow(): number {
  return performance.now() + offsetMs;
}
