/**
 * Vitest global setup: one PostgreSQL server for the whole run; tests take a database of their
 * own from it with `freshPostgresDatabase()`.
 */
import type { TestProject } from 'vitest/node';
// For its declaration of what is provided (postgresUrl); nothing runs.
import type {} from './postgresDatabase.js';
import { startPostgresServer } from './postgresServer.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startPostgresServer();
  project.provide('postgresUrl', server.url);
  return () => server.stop();
}
