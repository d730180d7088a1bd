/**
 * The conference registry's public face — which SFU node hosts which meeting, and how loaded
 * each node is — used by SFU nodes (heartbeats, claims) and by the gateway (pinning a meeting
 * before it admits someone). `createConferenceRegistry` picks the store for this deployment:
 * Redis when REDIS_URL is set, else in memory (one machine).
 */
import type { ConferenceRegistry, ConferenceRegistryOptions } from './conferenceRegistry.js';
import { MemoryConferenceRegistry } from './memoryRegistry.js';

export * from './conferenceRegistry.js';
export { MemoryConferenceRegistry } from './memoryRegistry.js';

export async function createConferenceRegistry(
  redisUrl: string | undefined,
  options: Partial<ConferenceRegistryOptions & { keyPrefix: string }> = {},
): Promise<ConferenceRegistry> {
  if (!redisUrl) return new MemoryConferenceRegistry(options);
  // Loaded only then: a single-machine installation does not hold the Redis client.
  const { RedisConferenceRegistry } = await import('./redisRegistry.js');
  return new RedisConferenceRegistry(redisUrl, options);
}
