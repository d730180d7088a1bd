/**
 * The writes (archive rows, offline copies) a session's stanza waits for before it counts as
 * received (XEP-0198 acknowledgement): collected for the stanza being handled, whether on its
 * own node's stanza loop or handled again elsewhere (another node, a room's new home).
 */
export class AckHolds {
  #current: Array<Promise<unknown>> | undefined;

  /** From now on, holds go to `holds` (the stanza loop starts a stanza). */
  begin(holds: Array<Promise<unknown>>): void {
    this.#current = holds;
  }

  add(write: Promise<unknown>): void {
    // Rejections are handled where the holds are awaited; this keeps them from being reported unhandled.
    write.catch(() => undefined);
    this.#current?.push(write);
  }

  /** Runs a handler outside the stanza loop; returns the writes it held (its synchronous part's). */
  collect(handle: () => void | Promise<void>): { handled: void | Promise<void>; holds: Array<Promise<unknown>> } {
    const previous = this.#current;
    const holds: Array<Promise<unknown>> = [];
    this.#current = holds;
    try {
      return { handled: handle(), holds };
    } finally {
      this.#current = previous;
    }
  }
}
