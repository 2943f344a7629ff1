/**
 * The frame of a one-shot command (`node dist/migrate.js`, `node dist/seed.js`): configuration from the
 * environment, a logger naming the command, and the process's exit code from the command's work.
 */
import { ConfigError, loadConfig, type Config } from './config';
import { createLogger, type Logger } from './logger';

/**
 * Runs `work` and exits with the code it returns. Invalid configuration exits 1 with the problems on
 * stderr, before any work; an error `work` does not handle exits 1 with its stack.
 */
export function runCommand(name: string, work: (config: Config, logger: Logger) => Promise<number>): void {
  const main = async (): Promise<number> => {
    let config: Config;
    try {
      config = loadConfig(process.env);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`sample ${name}: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
    return work(config, createLogger(config.logLevel).child({ component: name }));
  };
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`sample ${name}: unexpected error: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
