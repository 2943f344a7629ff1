import { buildServer, shutdown } from './app';
import { ConfigError, loadConfig, type Config } from './config';
import { describeDatabaseUrl } from './db';
import { createLogger } from './logger';

function configOrExit(): Config {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sample: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const config = configOrExit();
  const logger = createLogger(config.logLevel);
  const app = buildServer(config, { logger });

  let exiting = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (exiting) {
      logger.info({ signal }, 'shutdown already in progress');
      return;
    }
    exiting = true;
    logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'received signal; shutting down gracefully');
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'graceful shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    shutdown(app, config.shutdownDelayMs).then(
      () => {
        logger.info('shutdown complete');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  await app.listen({ port: config.port, host: config.host });
  logger.info(
    {
      port: config.port,
      host: config.host,
      title: config.appTitle,
      logLevel: config.logLevel,
      database: describeDatabaseUrl(config.databaseUrl),
    },
    'sample listening',
  );
}

main().catch((err: unknown) => {
  // Logged as one JSON line; startup errors (port in use, bad sslmode...) end the process with 1.
  createLogger('error').fatal({ err }, 'failed to start');
  process.exit(1);
});
