/** Picks the registry for this deployment: Redis when REDIS_URL is set, else in memory. */
import type { ConferenceRegistry, ConferenceRegistryOptions } from './conferenceRegistry.js';
import { MemoryConferenceRegistry } from './memoryRegistry.js';
import { RedisConferenceRegistry } from './redisRegistry.js';

export * from './conferenceRegistry.js';
export { MemoryConferenceRegistry } from './memoryRegistry.js';
export { RedisConferenceRegistry } from './redisRegistry.js';

export function createConferenceRegistry(
  redisUrl: string | undefined,
  options: Partial<ConferenceRegistryOptions & { keyPrefix: string }> = {},
): ConferenceRegistry {
  return redisUrl ? new RedisConferenceRegistry(redisUrl, options) : new MemoryConferenceRegistry(options);
}
