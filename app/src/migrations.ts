/*
 * A small versioned-SQL migration runner.
 *
 * Written when the local image ran Debian bookworm's nodejs 18, which node-pg-migrate 8/9 (Node >= 20.11) do
 * not support; the image now runs Node.js 24, so that reason is gone. Migrations here are plain SQL files,
 * so all this needs is ~100 lines: ordered files, a bookkeeping table, one transaction per file and an
 * advisory lock. Using SQL files (not JS migration modules) also keeps them readable by DBAs and by tooling.
 *
 * Contract:
 *   - files are `migrations/NNNN_snake_name.sql`, applied in version order; other .sql names are an error;
 *   - `schema_migrations(version, name, checksum, applied_at)` records what ran; applied versions are skipped;
 *   - each file runs in its own transaction together with its bookkeeping row: all or nothing
 *     (so no CREATE INDEX CONCURRENTLY / VACUUM in these files);
 *   - a session-level `pg_advisory_lock` serialises concurrent migrators (two Job pods, a rollout racing a
 *     manual run): the second one waits, then finds everything applied. Session locks need a direct
 *     connection, not a transaction-mode pooler (PgBouncer) URL;
 *   - editing an applied migration is refused (checksum mismatch): write a new migration instead.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import { poolConfigFromUrl, type DatabaseOptions } from './db';
import type { Logger } from './logger';

/** Arbitrary constant naming "esteira-sample schema migrations" in pg_locks. */
export const MIGRATION_LOCK_KEY = '7245190362045811';

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export interface Migration {
  version: string;
  name: string;
  file: string;
  sql: string;
  checksum: string;
}

export interface MigrationResult {
  applied: string[];
  skipped: string[];
}

export interface MigrateOptions extends DatabaseOptions {
  databaseUrl: string;
  dir: string;
  logger: Logger;
  /** How long to wait for another migrator's lock before giving up. */
  lockTimeoutMs?: number;
}

export class MigrationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

export async function loadMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const seen = new Map<string, string>();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match) {
      throw new MigrationError(`migration file "${file}" does not match NNNN_name.sql (lowercase, digits, _)`);
    }
    const version = match[1] as string;
    const other = seen.get(version);
    if (other) throw new MigrationError(`migrations "${other}" and "${file}" share version ${version}`);
    seen.set(version, file);
    const sql = await readFile(join(dir, file), 'utf8');
    if (sql.trim() === '') throw new MigrationError(`migration "${file}" is empty`);
    const checksum = createHash('sha256').update(sql).digest('hex');
    migrations.push({ version, name: match[2] as string, file, sql, checksum });
  }
  return migrations;
}

function pgMessage(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { message?: string; code?: string; position?: string };
    const parts = [e.message ?? String(err)];
    if (e.code) parts.push(`(SQLSTATE ${e.code}${e.position ? `, position ${e.position}` : ''})`);
    return parts.join(' ');
  }
  return String(err);
}

export async function runMigrations(options: MigrateOptions): Promise<MigrationResult> {
  const { logger } = options;
  const migrations = await loadMigrations(options.dir);
  const client = new Client({ ...poolConfigFromUrl(options.databaseUrl, options), query_timeout: undefined });
  client.on('error', (err) => logger.warn({ err }, 'migration connection error'));
  await client.connect();
  const result: MigrationResult = { applied: [], skipped: [] };
  let locked = false;
  try {
    const lockTimeoutMs = options.lockTimeoutMs ?? 120_000;
    await client.query(`SET lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`);
    logger.debug('waiting for the migration lock');
    try {
      await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    } catch (err) {
      throw new MigrationError(
        `could not take the migration lock within ${lockTimeoutMs}ms (another migrator still running?): ${pgMessage(err)}`,
        { cause: err },
      );
    }
    locked = true;
    await client.query('RESET lock_timeout');

    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    text PRIMARY KEY,
        name       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows } = await client.query<{ version: string; checksum: string }>(
      'SELECT version, checksum FROM schema_migrations',
    );
    const applied = new Map(rows.map((r) => [r.version, r.checksum]));

    const known = new Set(migrations.map((m) => m.version));
    const unknown = [...applied.keys()].filter((v) => !known.has(v)).sort();
    if (unknown.length > 0) {
      logger.warn({ versions: unknown }, 'database has migrations this build does not know (newer release ran?)');
    }

    for (const m of migrations) {
      const checksum = applied.get(m.version);
      if (checksum !== undefined) {
        if (checksum !== m.checksum) {
          throw new MigrationError(
            `migration ${m.file} was changed after it was applied (checksum mismatch); add a new migration instead`,
          );
        }
        result.skipped.push(m.file);
        continue;
      }
      const started = Date.now();
      try {
        await client.query('BEGIN');
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          m.checksum,
        ]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new MigrationError(`migration ${m.file} failed and was rolled back: ${pgMessage(err)}`, { cause: err });
      }
      result.applied.push(m.file);
      logger.info({ migration: m.file, durationMs: Date.now() - started }, 'migration applied');
    }
    return result;
  } finally {
    if (locked) {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
    await client.end().catch(() => undefined);
  }
}
