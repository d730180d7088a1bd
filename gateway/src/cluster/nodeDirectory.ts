/**
 * Which gateway nodes are alive, and how to reach each one (REDIS_URL set).
 *
 * Every node writes its entry with an expiry (PX = node TTL) a few times per TTL; a node whose
 * entry has expired is dead: what it held (SIP flows, XMPP sessions) is gone with it, and the
 * other nodes stop routing to it. Redis is the arbiter — no consensus of our own (DESIGN.md).
 *
 * Keys: <prefix>:gw:nodes (set of ids ever seen), <prefix>:gw:node:<id> (JSON, expiring).
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../../../server-common/logger.js';
import { TypedEmitter } from '../../../server-common/typedEmitter.js';

export interface GatewayNodeInfo {
  id: string;
  /** Where other nodes send SIP over TCP for flows this node holds. */
  sipHost: string;
  sipPort: number;
  /** Which durable store the node uses (`postgres` or `sqlite:<dir>`): several nodes need one shared database. */
  store: string;
  startedAt: number;
  /** The node's process (an operator's `kill`, or tests). */
  pid: number;
}

export interface NodeDirectoryOptions {
  redis: Redis;
  keyPrefix: string;
  self: GatewayNodeInfo;
  ttlMs: number;
  logger: Logger;
}

export interface NodeDirectoryEvents {
  nodeUp: [node: GatewayNodeInfo];
  /** The node's entry expired (it died) or it said goodbye. */
  nodeDown: [nodeId: string];
}

export class NodeDirectory extends TypedEmitter<NodeDirectoryEvents> {
  readonly self: GatewayNodeInfo;
  readonly #o: NodeDirectoryOptions;
  readonly #nodes = new Map<string, GatewayNodeInfo>();
  readonly #setKey: string;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;

  constructor(options: NodeDirectoryOptions) {
    super();
    this.#o = options;
    this.self = options.self;
    this.#setKey = `${options.keyPrefix}:gw:nodes`;
  }

  get id(): string {
    return this.self.id;
  }

  /** Announces this node and reads the others; resolves once the first view is in. */
  async start(): Promise<void> {
    await this.#tick();
    this.#timer = setInterval(() => {
      this.#ticking ??= this.#tick()
        .catch((err: unknown) => this.#o.logger.warn({ err }, 'gateway node heartbeat failed (Redis)'))
        .finally(() => (this.#ticking = undefined));
    }, Math.max(250, Math.floor(this.#o.ttlMs / 4)));
    this.#timer.unref();
  }

  /** Removes this node's entry: the others stop routing here at their next look. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#ticking;
    await this.#o.redis.multi().del(this.#nodeKey(this.self.id)).srem(this.#setKey, this.self.id).exec().catch(() => undefined);
  }

  isAlive(nodeId: string): boolean {
    return nodeId === this.self.id || this.#nodes.has(nodeId);
  }

  get(nodeId: string): GatewayNodeInfo | undefined {
    return nodeId === this.self.id ? this.self : this.#nodes.get(nodeId);
  }

  /** The other live nodes. */
  others(): GatewayNodeInfo[] {
    return [...this.#nodes.values()];
  }

  async #tick(): Promise<void> {
    const { redis, ttlMs } = this.#o;
    const [, , members] = (await redis
      .multi()
      .set(this.#nodeKey(this.self.id), JSON.stringify(this.self), 'PX', ttlMs)
      .sadd(this.#setKey, this.self.id)
      .smembers(this.#setKey)
      .exec()) as Array<[Error | null, unknown]>;
    const ids = ((members?.[1] as string[] | undefined) ?? []).filter((id) => id !== this.self.id);
    const values = ids.length ? await redis.mget(ids.map((id) => this.#nodeKey(id))) : [];
    const seen = new Set<string>();
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const raw = values[i];
      if (!raw) return gone.push(id);
      const info = JSON.parse(raw) as GatewayNodeInfo;
      seen.add(id);
      const known = this.#nodes.get(id);
      this.#nodes.set(id, info);
      // A node restarted under the same id is a new node: what the old one held is gone.
      if (known && known.startedAt !== info.startedAt) this.emit('nodeDown', id);
      if (!known || known.startedAt !== info.startedAt) this.emit('nodeUp', info);
    });
    for (const id of [...this.#nodes.keys()]) {
      if (!seen.has(id)) {
        this.#nodes.delete(id);
        this.emit('nodeDown', id);
      }
    }
    if (gone.length) await redis.srem(this.#setKey, ...gone);
  }

  #nodeKey(id: string): string {
    return `${this.#o.keyPrefix}:gw:node:${id}`;
  }
}
