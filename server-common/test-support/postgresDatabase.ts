/** A fresh, empty database on the run's test PostgreSQL server (see postgresGlobalSetup.ts). */
import { inject } from 'vitest';
import { createDatabase } from './postgresServer.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the test PostgreSQL server's maintenance database (postgresGlobalSetup.ts). */
    postgresUrl: string;
  }
}

export async function freshPostgresDatabase(prefix?: string): Promise<string> {
  const server = inject('postgresUrl');
  if (!server) throw new Error('no test PostgreSQL server: run the tests through vitest.config.ts (its globalSetup starts one)');
  return createDatabase(server, prefix);
}
