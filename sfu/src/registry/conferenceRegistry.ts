/**
 * The shared conference registry: which SFU node hosts which conference, and how loaded
 * each live node is. One interface, two stores: in memory (one node, the embedded default)
 * and Redis (many gateway and SFU nodes).
 *
 * - SFU nodes publish a heartbeat with their load; a node whose heartbeat is older than the
 *   node TTL is dead and is never chosen.
 * - `pin()` maps a conference to a node atomically: concurrent callers on different gateway
 *   nodes get the same node. A pin on a dead node is replaced (compare-and-set), so the next
 *   join after a node dies re-pins the conference on a live node.
 * - Pins live for the pin TTL; the hosting node renews the pins of the conferences it hosts
 *   with every heartbeat, and releases a pin once its conference has been empty for a grace
 *   period.
 */

/** What an SFU node reports with each heartbeat. */
export interface SfuNodeStatus {
  id: string;
  /** WebSocket URL of the node's signalling endpoint; '' means the gateway's own origin (embedded node). */
  url: string;
  consumers: number;
  producers: number;
  /** Worker CPU use, 0..1 averaged over the node's workers. */
  cpu: number;
  /** The node refuses new conferences once it hosts this many. */
  maxConferences: number;
  /** The node refuses new conferences once it forwards this many streams. */
  maxConsumers: number;
}

/** A live node as the registry sees it: its last status plus the conferences pinned to it. */
export interface SfuNodeView extends SfuNodeStatus {
  conferences: number;
}

export interface PinResult {
  node: SfuNodeView;
  /** True when this call made the pin (the conference was new, or its node had died). */
  created: boolean;
}

export interface HeartbeatResult {
  /** Conferences this node hosts whose pin now points at another node: their participants must move. */
  lost: string[];
}

export interface ConferenceRegistryOptions {
  /** A node is dead once its last heartbeat is this old. */
  nodeTtlMs: number;
  /** A pin not renewed by its node's heartbeat for this long expires. */
  pinTtlMs: number;
}

export const defaultRegistryOptions: ConferenceRegistryOptions = { nodeTtlMs: 6000, pinTtlMs: 30_000 };

export class NoSfuNodeAvailableError extends Error {
  constructor(liveNodes: number) {
    super(
      liveNodes === 0
        ? 'No conference server is running'
        : `All ${liveNodes} conference server(s) are at their limit`,
    );
    this.name = 'NoSfuNodeAvailableError';
  }
}

export interface ConferenceRegistry {
  /** Heartbeat: records the node's load and renews the pins of the conferences it hosts. */
  publishNode(status: SfuNodeStatus, hostedConferences: readonly string[]): Promise<HeartbeatResult>;
  /** A node shutting down cleanly leaves at once instead of waiting for its TTL. */
  removeNode(nodeId: string): Promise<void>;
  /** The conference's node, pinning it on the least-loaded live node when it has none (or a dead one). */
  pin(conference: string): Promise<PinResult>;
  /**
   * A node about to host a conference claims it: the pin is set to nodeId unless a live node
   * already holds it. Returns the holder's id (nodeId when the claim succeeded), or null when
   * nodeId itself is not a live node. Closes the gap between a join token being issued and
   * the room being created, during which a pin may expire.
   */
  claim(conference: string, nodeId: string): Promise<string | null>;
  /** The live node hosting the conference, or null. */
  lookup(conference: string): Promise<SfuNodeView | null>;
  /** Drops the pin if it still points at nodeId. Returns whether it did. */
  release(conference: string, nodeId: string): Promise<boolean>;
  liveNodes(): Promise<SfuNodeView[]>;
  close(): Promise<void>;
}

/** A node's load as one number (0 = idle, 1 = at a limit): the highest of its ratios. */
export function loadScore(node: SfuNodeView): number {
  return Math.max(
    node.conferences / Math.max(1, node.maxConferences),
    node.consumers / Math.max(1, node.maxConsumers),
    node.cpu,
  );
}

/** A node at any of its limits takes no new conference. */
export function isFull(node: SfuNodeView): boolean {
  return node.conferences >= node.maxConferences || node.consumers >= node.maxConsumers || node.cpu >= 0.95;
}

/** The node a new conference goes to: the least-loaded live node that is not full. */
export function chooseNode(nodes: readonly SfuNodeView[]): SfuNodeView {
  let best: SfuNodeView | undefined;
  for (const node of nodes) {
    if (isFull(node)) continue;
    if (
      !best ||
      loadScore(node) < loadScore(best) ||
      (loadScore(node) === loadScore(best) &&
        (node.conferences < best.conferences || (node.conferences === best.conferences && node.id < best.id)))
    ) {
      best = node;
    }
  }
  if (!best) throw new NoSfuNodeAvailableError(nodes.length);
  return best;
}
