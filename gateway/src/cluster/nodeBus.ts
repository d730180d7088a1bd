/**
 * Messages between gateway nodes, through one Redis Stream per node and channel (its inbox,
 * `<prefix>:gw:inbox:<channel>:<node>`), read by its owner with XREAD BLOCK.
 *
 * Why streams rather than pub/sub: a stream keeps what was written while the reader is between
 * two reads (pub/sub drops messages for a subscriber that is momentarily not reading, and
 * reconnecting loses them silently); and one stream per receiver gives exactly the order the
 * issue asks for — everything one node sends another is read in the order it was sent. Why not
 * direct TCP links between nodes: Redis is already the one thing every node can reach, and it
 * spares a mesh of connections, reconnection and back-pressure logic of our own.
 *
 * Envelopes sent to one node within one event-loop turn travel as one stream entry.
 *
 * What a node had not read when it died is not thrown away: its reader records how far it got
 * (`<inbox>:read`), and whoever takes the inbox over — the node itself when it starts again
 * under the same id, or else the first live node that sees it gone — gets the unread envelopes
 * as `orphan` events (their sessions are gone; a chat message for one goes to the user's other
 * resources or offline storage). The takeover is a RENAME, so exactly one node gets them.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../../../server-common/logger.js';
import { TypedEmitter } from '../../../server-common/typedEmitter.js';

export interface NodeBusOptions {
  redis: Redis;
  keyPrefix: string;
  /** What travels on this bus (`xmpp`, `auth`): each channel has its own inboxes and reader. */
  channel: string;
  nodeId: string;
  /** Tells a restarted node (same id) from its previous run. */
  incarnation: number;
  logger: Logger;
  /** Most entries an inbox keeps (a node far behind loses the oldest; bounded memory in Redis). */
  inboxMaxEntries?: number;
}

export interface NodeBusEvents<E> {
  /** Envelopes from one node arrive in the order that node sent them. */
  envelope: [from: string, incarnation: number, envelope: E];
  /** Sent to a node that died before reading it (see above); `to` is that node. */
  orphan: [to: string, from: string, envelope: E];
}

const BLOCK_MS = 1000;
const READ_COUNT = 200;

export class NodeBus<E> extends TypedEmitter<NodeBusEvents<E>> {
  readonly #o: NodeBusOptions;
  /** Envelopes waiting for the end of this event-loop turn, per receiving node. */
  readonly #outbox = new Map<string, E[]>();
  #flushScheduled = false;
  #reader: Redis | undefined;
  #reading: Promise<void> | undefined;
  #stopped = false;
  #lastId = '0-0';
  #sent = 0;
  #received = 0;

  constructor(options: NodeBusOptions) {
    super();
    this.#o = options;
  }

  /** Envelopes sent to and read from other nodes so far (for metrics). */
  get counts(): { sent: number; received: number } {
    return { sent: this.#sent, received: this.#received };
  }

  /**
   * Starts reading this node's inbox. What a previous run under the same id left unread was
   * meant for sessions that are gone: handed out as orphans first.
   */
  async start(): Promise<void> {
    await this.adopt(this.#o.nodeId);
    this.#reader = this.#o.redis.duplicate({ enableAutoPipelining: false });
    this.#reader.on('error', () => undefined); // the main connection logs Redis trouble
    this.#reading = this.#readLoop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#flush();
    this.#reader?.disconnect();
    await this.#reading;
  }

  send(node: string, envelope: E): void {
    let queue = this.#outbox.get(node);
    if (!queue) this.#outbox.set(node, (queue = []));
    queue.push(envelope);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  /** A node is gone (or restarted): nothing more is sent to its previous run. */
  forget(node: string): void {
    this.#outbox.delete(node);
  }

  /**
   * Takes over the inbox of a node that is gone for good (or of this node's previous run): its
   * unread envelopes are emitted as `orphan`, then it is removed. When another node was first,
   * there is nothing left here to take.
   */
  async adopt(node: string): Promise<number> {
    this.forget(node);
    const { redis } = this.#o;
    const inbox = this.#inbox(node);
    const taken = `${inbox}:taken:${this.#o.nodeId}:${this.#o.incarnation}`;
    try {
      await redis.rename(inbox, taken);
    } catch {
      // No such inbox: nothing was left, or another node took it (and reads its `:read` mark
      // now, so it is left alone; a stale mark is older than any entry written after it).
      return 0;
    }
    let count = 0;
    try {
      const readUpTo = (await redis.getdel(`${inbox}:read`)) ?? '0-0';
      let after = readUpTo;
      for (;;) {
        const entries = (await redis.xrange(taken, `(${after}`, '+', 'COUNT', READ_COUNT)) as Array<[string, string[]]>;
        if (!entries.length) break;
        for (const [id, fields] of entries) {
          after = id;
          const { from, envelopes } = parseEntry<E>(fields);
          for (const e of envelopes) {
            count++;
            try {
              this.emit('orphan', node, from, e);
            } catch (err) {
              this.#o.logger.error({ err, node }, 'handling an envelope a gone gateway node left unread failed');
            }
          }
        }
      }
    } finally {
      await redis.del(taken).catch(() => undefined);
    }
    if (count) this.#o.logger.info({ node, envelopes: count }, 'took over what a gone gateway node had not read');
    return count;
  }

  #flush(): void {
    this.#flushScheduled = false;
    const { redis, nodeId, incarnation } = this.#o;
    const max = this.#o.inboxMaxEntries ?? 100_000;
    for (const [node, envelopes] of this.#outbox) {
      this.#sent += envelopes.length;
      // One connection with pipelining: entries reach Redis in the order they were queued.
      redis
        .xadd(this.#inbox(node), 'MAXLEN', '~', max, '*', 'f', nodeId, 'i', incarnation, 'b', JSON.stringify(envelopes))
        .catch((err: unknown) => this.#o.logger.warn({ err, node }, 'could not send to a gateway node (Redis)'));
    }
    this.#outbox.clear();
  }

  async #readLoop(): Promise<void> {
    const key = this.#inbox(this.#o.nodeId);
    let trimmedAt = 0;
    while (!this.#stopped) {
      let result: Array<[string, Array<[string, string[]]>]> | null;
      try {
        result = (await this.#reader!.xread('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', key, this.#lastId)) as typeof result;
      } catch (err) {
        if (this.#stopped) return;
        this.#o.logger.warn({ err }, 'reading the gateway node inbox failed (Redis); retrying');
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      for (const [, entries] of result ?? []) {
        for (const [id, fields] of entries) {
          this.#lastId = id;
          this.#deliver(fields);
        }
      }
      // How far this node got, for whoever takes the inbox over if it dies (see the top).
      if (result) void this.#o.redis.set(`${key}:read`, this.#lastId).catch(() => undefined);
      // What has been read is removed now and then (the stream is a queue, not a log).
      if (result && Date.now() - trimmedAt > 1000) {
        trimmedAt = Date.now();
        void this.#o.redis.xtrim(key, 'MINID', '~', this.#lastId).catch(() => undefined);
      }
    }
  }

  #deliver(fields: string[]): void {
    const { from, incarnation, envelopes } = parseEntry<E>(fields);
    for (const e of envelopes) {
      this.#received++;
      try {
        this.emit('envelope', from, incarnation, e);
      } catch (err) {
        this.#o.logger.error({ err, from }, 'handling a message from a gateway node failed');
      }
    }
  }

  #inbox(node: string): string {
    return `${this.#o.keyPrefix}:gw:inbox:${this.#o.channel}:${node}`;
  }
}

function parseEntry<E>(fields: string[]): { from: string; incarnation: number; envelopes: E[] } {
  let from = '';
  let incarnation = 0;
  let body = '[]';
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'f') from = fields[i + 1]!;
    else if (fields[i] === 'i') incarnation = Number(fields[i + 1]);
    else if (fields[i] === 'b') body = fields[i + 1]!;
  }
  try {
    return { from, incarnation, envelopes: JSON.parse(body) as E[] }; // written by our own nodes
  } catch {
    return { from, incarnation, envelopes: [] };
  }
}
