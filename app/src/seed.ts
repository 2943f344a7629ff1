/**
 * `node dist/seed.js` (npm run seed): inserts the seed data that is missing into DATABASE_URL and exits 0;
 * safe to run again and from several pods at once (see seeds.ts). Exits 1 with a JSON error line otherwise.
 */
import { runCommand } from './cli';
import { describeDatabaseUrl } from './db';
import { runSeed } from './seeds';

runCommand('seed', async (config, logger) => {
  logger.info({ database: describeDatabaseUrl(config.databaseUrl) }, 'seeding');
  try {
    await runSeed({ databaseUrl: config.databaseUrl, caCert: config.databaseCaCert, applicationName: 'esteira-sample-seed', logger });
    return 0;
  } catch (err) {
    logger.error({ err }, `seed failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
});
