/** The conference registry for one process (the embedded default): maps with expiry times. */
import {
  chooseNode,
  defaultRegistryOptions,
  type ConferenceRegistry,
  type ConferenceRegistryOptions,
  type HeartbeatResult,
  type PinResult,
  type SfuNodeStatus,
  type SfuNodeView,
} from './conferenceRegistry.js';

interface NodeEntry {
  status: SfuNodeStatus;
  expiresAt: number;
}

interface PinEntry {
  nodeId: string;
  expiresAt: number;
}

export class MemoryConferenceRegistry implements ConferenceRegistry {
  readonly #options: ConferenceRegistryOptions;
  readonly #nodes = new Map<string, NodeEntry>();
  readonly #pins = new Map<string, PinEntry>();
  readonly #now: () => number;

  constructor(options: Partial<ConferenceRegistryOptions> = {}, now: () => number = Date.now) {
    this.#options = { ...defaultRegistryOptions, ...options };
    this.#now = now;
  }

  async publishNode(status: SfuNodeStatus, hosted: readonly string[]): Promise<HeartbeatResult> {
    const now = this.#now();
    this.#nodes.set(status.id, { status: { ...status }, expiresAt: now + this.#options.nodeTtlMs });
    const lost: string[] = [];
    for (const conference of hosted) {
      const pin = this.#livePin(conference, now);
      if (pin && pin.nodeId !== status.id) lost.push(conference);
      else this.#pins.set(conference, { nodeId: status.id, expiresAt: now + this.#options.pinTtlMs });
    }
    return { lost };
  }

  async removeNode(nodeId: string): Promise<void> {
    this.#nodes.delete(nodeId);
    for (const [conference, pin] of this.#pins) if (pin.nodeId === nodeId) this.#pins.delete(conference);
  }

  async pin(conference: string): Promise<PinResult> {
    const now = this.#now();
    const pin = this.#livePin(conference, now);
    if (pin) {
      const node = this.#liveNode(pin.nodeId, now);
      if (node) return { node, created: false };
    }
    const node = chooseNode(this.#liveNodes(now));
    this.#pins.set(conference, { nodeId: node.id, expiresAt: now + this.#options.pinTtlMs });
    return { node: { ...node, conferences: node.conferences + 1 }, created: true };
  }

  async claim(conference: string, nodeId: string): Promise<string | null> {
    const now = this.#now();
    const pin = this.#livePin(conference, now);
    if (pin && this.#liveNode(pin.nodeId, now)) return pin.nodeId;
    if (!this.#liveNode(nodeId, now)) return null;
    this.#pins.set(conference, { nodeId, expiresAt: now + this.#options.pinTtlMs });
    return nodeId;
  }

  async lookup(conference: string): Promise<SfuNodeView | null> {
    const now = this.#now();
    const pin = this.#livePin(conference, now);
    return pin ? this.#liveNode(pin.nodeId, now) : null;
  }

  async release(conference: string, nodeId: string): Promise<boolean> {
    const pin = this.#pins.get(conference);
    if (!pin || pin.nodeId !== nodeId) return false;
    this.#pins.delete(conference);
    return true;
  }

  async liveNodes(): Promise<SfuNodeView[]> {
    return this.#liveNodes(this.#now());
  }

  async close(): Promise<void> {}

  #livePin(conference: string, now: number): PinEntry | undefined {
    const pin = this.#pins.get(conference);
    if (pin && pin.expiresAt <= now) {
      this.#pins.delete(conference);
      return undefined;
    }
    return pin;
  }

  #liveNode(nodeId: string, now: number): SfuNodeView | null {
    const entry = this.#nodes.get(nodeId);
    if (!entry) return null;
    if (entry.expiresAt <= now) {
      this.#nodes.delete(nodeId);
      return null;
    }
    let conferences = 0;
    for (const [name, pin] of this.#pins) if (pin.nodeId === nodeId && this.#livePin(name, now)) conferences++;
    return { ...entry.status, conferences };
  }

  #liveNodes(now: number): SfuNodeView[] {
    const views: SfuNodeView[] = [];
    for (const id of [...this.#nodes.keys()]) {
      const view = this.#liveNode(id, now);
      if (view) views.push(view);
    }
    return views;
  }
}
