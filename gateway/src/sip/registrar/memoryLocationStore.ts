/** LocationStore in process memory: the embedded single-node default. */
import { bindingKey, sortBindings, type Binding, type LocationStore } from './locationStore.js';

export class MemoryLocationStore implements LocationStore {
  readonly #byAor = new Map<string, Binding[]>();
  /** flowId → AORs with a binding on that flow, so a closing connection is cheap to clean up. */
  readonly #byFlow = new Map<string, Set<string>>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(sweepIntervalMs = 30_000) {
    this.#sweeper = setInterval(() => this.#sweep(), sweepIntervalMs);
    this.#sweeper.unref();
  }

  async list(aor: string): Promise<Binding[]> {
    const all = this.#byAor.get(aor);
    if (!all) return [];
    const now = Date.now();
    const live = all.filter((b) => b.expiresAt > now);
    if (live.length !== all.length) this.#set(aor, live);
    return live;
  }

  async update(aor: string, put: Binding[], remove: string[]): Promise<void> {
    const byKey = new Map((this.#byAor.get(aor) ?? []).map((b) => [bindingKey(b), b]));
    for (const key of remove) byKey.delete(key);
    for (const b of put) byKey.set(bindingKey(b), b);
    this.#set(aor, sortBindings([...byKey.values()]));
  }

  async removeAll(aor: string): Promise<void> {
    this.#set(aor, []);
  }

  async heldAors(): Promise<string[]> {
    return [...this.#byAor.keys()];
  }

  async removeFlow(flowId: string): Promise<string[]> {
    const aors = this.#byFlow.get(flowId);
    if (!aors) return [];
    const touched = [...aors];
    for (const aor of touched) {
      this.#set(aor, (this.#byAor.get(aor) ?? []).filter((b) => b.flowId !== flowId));
    }
    this.#byFlow.delete(flowId);
    return touched;
  }

  async size(): Promise<number> {
    let n = 0;
    for (const list of this.#byAor.values()) n += list.length;
    return n;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
  }

  #set(aor: string, bindings: Binding[]): void {
    const before = this.#byAor.get(aor) ?? [];
    for (const b of before) this.#byFlow.get(b.flowId)?.delete(aor);
    if (bindings.length) this.#byAor.set(aor, bindings);
    else this.#byAor.delete(aor);
    for (const b of bindings) {
      let set = this.#byFlow.get(b.flowId);
      if (!set) this.#byFlow.set(b.flowId, (set = new Set()));
      set.add(aor);
    }
    for (const b of before) {
      if (this.#byFlow.get(b.flowId)?.size === 0) this.#byFlow.delete(b.flowId);
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const [aor, list] of this.#byAor) {
      if (list.some((b) => b.expiresAt <= now)) this.#set(aor, list.filter((b) => b.expiresAt > now));
    }
  }
}
