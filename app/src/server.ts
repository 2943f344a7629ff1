import type { Server } from 'node:http';
import { buildServer, shutdown } from './app';
import { ConfigError, loadConfig, type Config } from './config';
import { describeDatabaseUrl } from './db';
import { createLogger } from './logger';
import { listenMetrics } from './metrics';

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
  // Listens on METRICS_PORT when it is set; closed after the app on shutdown.
  let metricsServer: Server | undefined;
  const closeMetrics = (): Promise<void> =>
    new Promise((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve()));

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
    shutdown(app, config.shutdownDelayMs)
      .then(closeMetrics)
      .then(
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
  if (config.metricsPort !== undefined) {
    metricsServer = await listenMetrics(app.metrics.registry, config.metricsPort, config.host);
    logger.info({ metricsPort: config.metricsPort }, 'metrics listening on a port of their own');
  }
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
