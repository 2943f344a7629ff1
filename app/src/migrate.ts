/**
 * `node dist/migrate.js` (npm run migrate): applies migrations/NNNN_name.sql to DATABASE_URL and exits
 * 0 when the schema is up to date, 1 (with a JSON error line naming the failing file) otherwise.
 * Safe to run from several pods at once; see migrations.ts.
 */
import { join } from 'node:path';
import { runCommand } from './cli';
import { describeDatabaseUrl } from './db';
import { runMigrations } from './migrations';

runCommand('migrate', async (config, logger) => {
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
});
