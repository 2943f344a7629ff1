/**
 * `node dist/migrate.js` (npm run migrate): applies migrations/NNNN_name.sql to DATABASE_URL and exits
 * 0 when the schema is up to date, 1 (with a JSON error line naming the failing file) otherwise.
 * Safe to run from several pods at once; see migrations.ts.
 */
import { join } from 'node:path';
import { ConfigError, loadConfig } from './config';
import { describeDatabaseUrl } from './db';
import { createLogger } from './logger';
import { runMigrations } from './migrations';

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sample migrate: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const logger = createLogger(config.logLevel).child({ component: 'migrate' });
  const dir = process.env.MIGRATIONS_DIR?.trim() || join(__dirname, '..', 'migrations');
  logger.info({ database: describeDatabaseUrl(config.databaseUrl), dir }, 'applying migrations');
  try {
    const result = await runMigrations({
      databaseUrl: config.databaseUrl,
      caCert: config.databaseCaCert,
      applicationName: 'esteira-sample-migrate',
      dir,
      logger,
    });
    logger.info(
      { applied: result.applied, alreadyApplied: result.skipped.length },
      result.applied.length > 0 ? 'migrations complete' : 'schema already up to date',
    );
    return 0;
  } catch (err) {
    logger.error({ err }, `migration failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`sample migrate: unexpected error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
