/**
 * `node dist/seed.js` (npm run seed): inserts the seed data that is missing into DATABASE_URL and exits 0;
 * safe to run again and from several pods at once (see seeds.ts). Exits 1 with a JSON error line otherwise.
 */
import { ConfigError, loadConfig } from './config';
import { describeDatabaseUrl } from './db';
import { createLogger } from './logger';
import { runSeed } from './seeds';

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sample seed: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const logger = createLogger(config.logLevel).child({ component: 'seed' });
  logger.info({ database: describeDatabaseUrl(config.databaseUrl) }, 'seeding');
  try {
    await runSeed({
      databaseUrl: config.databaseUrl,
      caCert: config.databaseCaCert,
      applicationName: 'esteira-sample-seed',
      logger,
    });
    return 0;
  } catch (err) {
    logger.error({ err }, `seed failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`sample seed: unexpected error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
