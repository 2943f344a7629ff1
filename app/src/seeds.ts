/*
 * Seed data: rows every environment starts with, written so that running the seed again (a retry, the
 * next deploy's Job) changes nothing. Today that is one welcome note.
 *
 * Contract: one transaction; a transaction-level advisory lock serialises concurrent seeders; each row is
 * inserted only when absent. Run it after the migrations (it needs their tables).
 */
import { Client } from 'pg';
import { poolConfigFromUrl, type DatabaseOptions } from './db';
import type { Logger } from './logger';

/** Arbitrary constant naming "esteira-sample seed" in pg_locks. */
export const SEED_LOCK_KEY = '7245190362045812';

export const WELCOME_NOTE = "Welcome: this note was seeded by the sample service's seed Job.";

export interface SeedOptions extends DatabaseOptions {
  databaseUrl: string;
  logger: Logger;
}

/** Inserts what is missing; returns how many rows it inserted (0 on every run after the first). */
export async function runSeed(options: SeedOptions): Promise<number> {
  const client = new Client(poolConfigFromUrl(options.databaseUrl, options));
  client.on('error', (err) => options.logger.warn({ err }, 'seed connection error'));
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [SEED_LOCK_KEY]);
    const result = await client.query(
      'INSERT INTO notes (text) SELECT $1::text WHERE NOT EXISTS (SELECT 1 FROM notes WHERE text = $1::text)',
      [WELCOME_NOTE],
    );
    await client.query('COMMIT');
    const inserted = result.rowCount ?? 0;
    options.logger.info({ inserted }, inserted > 0 ? 'seed data inserted' : 'seed data already present');
    return inserted;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.end();
  }
}
