/**
 * An in-process gateway on free ports with a throwaway data directory, for integration tests.
 * With PARLEY_TEST_DATABASE=postgres (the test command's second pass) its records go to a
 * fresh database on the run's test PostgreSQL server instead of SQLite.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config.js';
import { Gateway } from '../src/gateway.js';
import type { TimerValues } from '../src/sip/transaction/timers.js';
import { createLogger } from '../../server-common/logger.js';

export interface TestGateway {
  gateway: Gateway;
  sipPort: number;
  /** SIP over TLS (the gateway's self-signed certificate). */
  sipTlsPort: number;
  xmppPort: number;
  httpPort: number;
  url: string;
  dataDir: string;
  /** The settings naming this gateway's records, for running the `parley` CLI against it. */
  storageEnv: Record<string, string>;
  addUser(name: string, password?: string, displayName?: string): Promise<void>;
  /** Stops the gateway; the data directory is removed unless `keepData`. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export const TEST_PASSWORD = 'test-password-1';
/** Short SIP timers so timeouts happen in tests within a few seconds (T1 50 ms → Timer B 3.2 s). */
export const FAST_TIMERS: TimerValues = { T1: 50, T2: 400, T4: 500 };

export async function startTestGateway(env: Record<string, string> = {}, timers: TimerValues = FAST_TIMERS): Promise<TestGateway> {
  const dataDir = env.PARLEY_DATA ?? fs.mkdtempSync(path.join(os.tmpdir(), 'parley-test-'));
  // Imported only then: it needs vitest's provided context, which fuzzing runs do not have.
  const databaseUrl =
    env.DATABASE_URL ??
    (process.env.PARLEY_TEST_DATABASE === 'postgres'
      ? await (await import('../../server-common/test-support/postgresDatabase.js')).freshPostgresDatabase('gw')
      : undefined);
  const storageEnv: Record<string, string> = { PARLEY_DATA: dataDir, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
  const config = loadConfig({
    PORT: '0',
    SIP_PORT: '0',
    SIP_TLS_PORT: '0',
    XMPP_C2S_PORT: '0',
    PARLEY_XMPP_HOST: '127.0.0.1',
    PARLEY_HTTP_HOST: '127.0.0.1',
    PARLEY_SIP_HOST: '127.0.0.1',
    PARLEY_DATA: dataDir,
    PARLEY_PASSWORD_HASH_COST: '10',
    PARLEY_LOG_LEVEL: process.env.PARLEY_LOG_LEVEL ?? 'silent',
    // One mediasoup worker on loopback, on ports the system picks, so test gateways never collide.
    PARLEY_SFU_WORKERS: '1',
    PARLEY_SFU_LISTEN_IP: '127.0.0.1',
    PARLEY_SFU_RTC_PORT: '0',
    // No bridge unless a test brings its own rtpengine (never a system one it happens to find).
    PARLEY_MEDIA_BRIDGE: 'off',
    ...env,
    ...storageEnv,
  });
  const gateway = await Gateway.open({ config, logger: createLogger(config.logLevel), sipTimers: timers, staticDir: path.join(dataDir, 'no-client') });
  await gateway.start();
  const httpPort = gateway.http.port;
  return {
    gateway,
    sipPort: gateway.sip.transport.port,
    sipTlsPort: gateway.sip.transport.tlsPort,
    xmppPort: gateway.xmppListeners.port,
    httpPort,
    url: `http://127.0.0.1:${httpPort}`,
    dataDir,
    storageEnv,
    async addUser(name, password = TEST_PASSWORD, displayName) {
      await gateway.accounts.create({ username: name, password, displayName });
    },
    async stop(options = {}) {
      await gateway.stop();
      if (!options.keepData) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
