/** A small typed event emitter for the browser. */
type Listener = (...args: unknown[]) => void;

export class Emitter<E extends { [K in keyof E]: unknown[] }> {
  readonly #listeners = new Map<keyof E, Set<Listener>>();

  on<K extends keyof E>(event: K, fn: (...args: E[K]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    const listener = fn as unknown as Listener;
    set.add(listener);
    return () => set.delete(listener);
  }

  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    for (const fn of this.#listeners.get(event) ?? []) fn(...args);
  }
}
