/**
 * /healthz is readiness: a node whose Redis stops answering says so (503, naming the store), so
 * a load balancer's health check takes it out of rotation instead of sending users to a node
 * that cannot reach the others.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase } from '../../../server-common/test-support/postgresDatabase.js';
import { startRedisServer, type RedisServer } from '../../../server-common/test-support/redisServer.js';
import { GatewayProcess } from '../../test-support/gatewayProcess.js';

let redis: RedisServer;
let node: GatewayProcess;

describe('a gateway node’s health', () => {
  beforeAll(async () => {
    redis = await startRedisServer();
    node = new GatewayProcess({ env: { DATABASE_URL: await freshPostgresDatabase('health'), REDIS_URL: redis.url, PARLEY_NODE_ID: 'health-a' } });
    await node.start();
  }, 60_000);

  afterAll(async () => {
    await node?.stop();
    await redis?.stop();
  });

  it('is ready while its database and Redis answer, and 503 naming Redis once Redis is gone', async () => {
    const ok = await fetch(`${node.url}/healthz`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: 'ok', node: 'health-a' });

    await redis.stop();
    const down = await fetch(`${node.url}/healthz`);
    expect(down.status).toBe(503);
    const body = (await down.json()) as { status: string; error: { message: string } };
    expect(body.status).toBe('unavailable');
    expect(body.error.message).toBe('Not ready: redis did not answer');
  }, 30_000);
});
