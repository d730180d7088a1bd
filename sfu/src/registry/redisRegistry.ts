/**
 * The conference registry in Redis, shared by every gateway and SFU node.
 *
 * Keys (one hash tag, so every key sits in one slot and the scripts also run on Redis Cluster):
 *   <prefix>nodes            set of node ids that have sent a heartbeat
 *   <prefix>node:<id>        the node's last status (JSON), expiring after the node TTL
 *   <prefix>pin:<conference> id of the node hosting the conference, expiring after the pin TTL
 *   <prefix>pins:<id>        conferences pinned to the node (for its load)
 * Every read-modify-write is one Lua script, so it is atomic across all clients.
 */
import crypto from 'node:crypto';
import { Redis } from 'ioredis';
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

// KEYS[1] is always <prefix>nodes; the scripts derive the other keys from its prefix.
const PREFIX = `local p = string.sub(KEYS[1], 1, -6)\n`;

/** ARGV: nodeId, statusJson, nodeTtlMs, pinTtlMs, hosted conferences… Returns the lost conferences. */
const HEARTBEAT = `${PREFIX}
local id = ARGV[1]
redis.call('SET', p .. 'node:' .. id, ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[1], id)
local pins = p .. 'pins:' .. id
local lost = {}
for i = 5, #ARGV do
  local key = p .. 'pin:' .. ARGV[i]
  local owner = redis.call('GET', key)
  if owner and owner ~= id and redis.call('EXISTS', p .. 'node:' .. owner) == 1 then
    table.insert(lost, ARGV[i])
  else
    redis.call('SET', key, id, 'PX', ARGV[4])
    redis.call('SADD', pins, ARGV[i])
  end
end
for _, conference in ipairs(redis.call('SMEMBERS', pins)) do
  if redis.call('GET', p .. 'pin:' .. conference) ~= id then redis.call('SREM', pins, conference) end
end
return lost`;

/** ARGV: conference, candidateNodeId, pinTtlMs. Returns {owner, created}, or false if the candidate died. */
const PIN = `${PREFIX}
local key = p .. 'pin:' .. ARGV[1]
local owner = redis.call('GET', key)
if owner and redis.call('EXISTS', p .. 'node:' .. owner) == 1 then return {owner, 0} end
if redis.call('EXISTS', p .. 'node:' .. ARGV[2]) == 0 then return false end
redis.call('SET', key, ARGV[2], 'PX', ARGV[3])
redis.call('SADD', p .. 'pins:' .. ARGV[2], ARGV[1])
if owner then redis.call('SREM', p .. 'pins:' .. owner, ARGV[1]) end
return {ARGV[2], 1}`;

/** ARGV: conference. Returns {id, statusJson, conferences} of the live hosting node, or false. */
const LOOKUP = `${PREFIX}
local owner = redis.call('GET', p .. 'pin:' .. ARGV[1])
if not owner then return false end
local status = redis.call('GET', p .. 'node:' .. owner)
if not status then return false end
return {owner, status, redis.call('SCARD', p .. 'pins:' .. owner)}`;

/** ARGV: conference, nodeId. Returns 1 if the pin was released. */
const RELEASE = `${PREFIX}
local key = p .. 'pin:' .. ARGV[1]
if redis.call('GET', key) ~= ARGV[2] then return 0 end
redis.call('DEL', key)
redis.call('SREM', p .. 'pins:' .. ARGV[2], ARGV[1])
return 1`;

/** Returns a flat list id, statusJson, conferences for every live node; forgets dead ones. */
const LIVE_NODES = `${PREFIX}
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local status = redis.call('GET', p .. 'node:' .. id)
  if status then
    table.insert(out, id)
    table.insert(out, status)
    table.insert(out, redis.call('SCARD', p .. 'pins:' .. id))
  else
    redis.call('SREM', KEYS[1], id)
    redis.call('DEL', p .. 'pins:' .. id)
  end
end
return out`;

/** ARGV: nodeId. Removes the node and the pins that point at it. */
const REMOVE_NODE = `${PREFIX}
local id = ARGV[1]
for _, conference in ipairs(redis.call('SMEMBERS', p .. 'pins:' .. id)) do
  if redis.call('GET', p .. 'pin:' .. conference) == id then redis.call('DEL', p .. 'pin:' .. conference) end
end
redis.call('DEL', p .. 'pins:' .. id, p .. 'node:' .. id)
redis.call('SREM', KEYS[1], id)
return 1`;

class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = crypto.createHash('sha1').update(source).digest('hex');
  }
}

const scripts = {
  heartbeat: new Script(HEARTBEAT),
  pin: new Script(PIN),
  lookup: new Script(LOOKUP),
  release: new Script(RELEASE),
  liveNodes: new Script(LIVE_NODES),
  removeNode: new Script(REMOVE_NODE),
};

export interface RedisConferenceRegistryOptions extends ConferenceRegistryOptions {
  /** Prefix of every key; the registry adds a hash tag. */
  keyPrefix: string;
}

export class RedisConferenceRegistry implements ConferenceRegistry {
  readonly #redis: Redis;
  readonly #options: RedisConferenceRegistryOptions;
  readonly #nodesKey: string;

  constructor(redisUrl: string, options: Partial<RedisConferenceRegistryOptions> = {}) {
    this.#options = { ...defaultRegistryOptions, keyPrefix: 'parley', ...options };
    this.#nodesKey = `${this.#options.keyPrefix}:{registry}:nodes`;
    // Fail requests quickly while Redis is unreachable instead of queueing them for ever:
    // a join then gets a clear 503 and the client retries.
    this.#redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false });
    // Connection errors surface on the requests that need Redis; ioredis keeps reconnecting.
    this.#redis.on('error', () => {});
  }

  async publishNode(status: SfuNodeStatus, hosted: readonly string[]): Promise<HeartbeatResult> {
    const lost = (await this.#run(scripts.heartbeat, [
      status.id,
      JSON.stringify(status),
      String(this.#options.nodeTtlMs),
      String(this.#options.pinTtlMs),
      ...hosted,
    ])) as string[];
    return { lost };
  }

  async removeNode(nodeId: string): Promise<void> {
    await this.#run(scripts.removeNode, [nodeId]);
  }

  async pin(conference: string): Promise<PinResult> {
    for (let attempt = 0; ; attempt++) {
      const existing = await this.lookup(conference);
      if (existing) return { node: existing, created: false };
      const candidate = chooseNode(await this.liveNodes());
      const result = (await this.#run(scripts.pin, [conference, candidate.id, String(this.#options.pinTtlMs)])) as
        | [string, number]
        | null;
      if (result) {
        const [owner, created] = result;
        if (created === 1) return { node: { ...candidate, conferences: candidate.conferences + 1 }, created: true };
        const node = await this.lookup(conference);
        if (node && node.id === owner) return { node, created: false };
      }
      // The candidate died, or the winner's pin vanished between two reads: choose again.
      if (attempt >= 4) throw new Error(`could not pin conference ${conference}`);
    }
  }

  async claim(conference: string, nodeId: string): Promise<string | null> {
    const result = (await this.#run(scripts.pin, [conference, nodeId, String(this.#options.pinTtlMs)])) as
      | [string, number]
      | null;
    return result ? result[0] : null;
  }

  async lookup(conference: string): Promise<SfuNodeView | null> {
    const row = (await this.#run(scripts.lookup, [conference])) as [string, string, number] | null;
    return row ? parseView(row[1], row[2]) : null;
  }

  async release(conference: string, nodeId: string): Promise<boolean> {
    return (await this.#run(scripts.release, [conference, nodeId])) === 1;
  }

  async liveNodes(): Promise<SfuNodeView[]> {
    const flat = (await this.#run(scripts.liveNodes, [])) as (string | number)[];
    const views: SfuNodeView[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      views.push(parseView(String(flat[i + 1]), Number(flat[i + 2])));
    }
    return views;
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  async #run(script: Script, args: string[]): Promise<unknown> {
    try {
      return await this.#redis.evalsha(script.sha, 1, this.#nodesKey, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
      return this.#redis.eval(script.source, 1, this.#nodesKey, ...args);
    }
  }
}

function parseView(statusJson: string, conferences: number): SfuNodeView {
  const status = JSON.parse(statusJson) as SfuNodeStatus;
  return { ...status, conferences: Number(conferences) };
}
