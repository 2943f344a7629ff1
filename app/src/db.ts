import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Pool, type PoolConfig } from 'pg';
import { parse as parseConnectionString, toClientConfig } from 'pg-connection-string';
import type { Logger } from './logger';

export interface DatabaseOptions {
  /** PEM CA certificate(s) to verify the server with (DATABASE_CA_CERT). */
  caCert?: string | undefined;
  /** Pool size. */
  max?: number;
  /** Shown in pg_stat_activity. */
  applicationName?: string;
}

const SSL_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'ssl', 'uselibpqcompat'] as const;

/**
 * Turns DATABASE_URL into a node-postgres config, giving `sslmode` libpq's meaning.
 *
 * Why not hand the URL straight to pg: pg-connection-string 2.x treats `sslmode=require` as an alias of
 * `verify-full`, so a managed PostgreSQL URL like `...?sslmode=require` whose server certificate is signed by
 * the provider's private CA fails with "self-signed certificate in certificate chain" unless the CA is supplied.
 * libpq (psql, every other client) and pg 9 treat `require` as "encrypt, don't verify". We strip the SSL
 * parameters from the URL and build `ssl` ourselves:
 *
 *   (none), disable, allow  -> plain TCP (local development, tests)
 *   prefer, require         -> TLS without certificate verification; with a CA (DATABASE_CA_CERT or
 *                              sslrootcert=<file>) it verifies the chain like libpq does (verify-ca)
 *   verify-ca               -> TLS, chain verified against the CA (required), host name not checked
 *   verify-full             -> TLS, chain and host name verified (CA from DATABASE_CA_CERT/sslrootcert,
 *                              else the system trust store)
 *
 * `prefer` cannot fall back to plain TCP as libpq would: node-postgres has no fallback, so it means TLS.
 */
export function poolConfigFromUrl(databaseUrl: string, options: DatabaseOptions = {}): PoolConfig {
  const queryStart = databaseUrl.indexOf('?');
  const params = new URLSearchParams(queryStart >= 0 ? databaseUrl.slice(queryStart + 1) : '');
  const sslmode = params.get('sslmode') ?? undefined;
  const sslrootcert = params.get('sslrootcert') ?? undefined;
  const sslcert = params.get('sslcert') ?? undefined;
  const sslkey = params.get('sslkey') ?? undefined;
  for (const p of SSL_PARAMS) params.delete(p);
  const rest = params.toString();
  const stripped = (queryStart >= 0 ? databaseUrl.slice(0, queryStart) : databaseUrl) + (rest ? `?${rest}` : '');

  const base = toClientConfig(parseConnectionString(stripped)) as PoolConfig;
  const ca = options.caCert ?? (sslrootcert ? readFileSync(sslrootcert, 'utf8') : undefined);

  let ssl: false | ConnectionOptions;
  switch (sslmode) {
    case undefined:
    case 'disable':
    case 'allow':
      ssl = false;
      break;
    case 'prefer':
    case 'require':
      ssl = ca ? { ca, checkServerIdentity: () => undefined } : { rejectUnauthorized: false };
      break;
    case 'verify-ca':
      if (!ca) {
        throw new Error('sslmode=verify-ca needs a CA certificate: set DATABASE_CA_CERT or sslrootcert');
      }
      ssl = { ca, checkServerIdentity: () => undefined };
      break;
    case 'verify-full':
      ssl = ca ? { ca } : {};
      break;
    default:
      throw new Error(
        `unsupported sslmode "${sslmode}" in DATABASE_URL (use disable, prefer, require, verify-ca or verify-full)`,
      );
  }
  if (ssl && sslcert && sslkey) {
    ssl.cert = readFileSync(sslcert, 'utf8');
    ssl.key = readFileSync(sslkey, 'utf8');
  }

  return {
    ...base,
    ssl,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'esteira-sample',
    // Bound every wait so a black-holed database turns into errors instead of hung requests.
    connectionTimeoutMillis: 5_000,
    query_timeout: 15_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  };
}

/** Describes where the pool points without leaking the password. */
export function describeDatabaseUrl(databaseUrl: string): string {
  try {
    const u = new URL(databaseUrl);
    return `${u.hostname}:${u.port || '5432'}${u.pathname} sslmode=${u.searchParams.get('sslmode') ?? 'disable'}`;
  } catch {
    return '<unparseable DATABASE_URL>';
  }
}

export function createPool(databaseUrl: string, options: DatabaseOptions, logger: Logger): Pool {
  const pool = new Pool(poolConfigFromUrl(databaseUrl, options));
  // An idle client whose server connection dies (database restart, failover) emits 'error' on the pool;
  // without a listener that would crash the process. The pool discards the client and reconnects on demand.
  pool.on('error', (err) => {
    logger.warn({ err }, 'idle database connection failed; it will be replaced');
  });
  return pool;
}

/** Runs `SELECT 1`, rejecting after `timeoutMs` even if the driver is still waiting. */
export async function pingDatabase(pool: Pool, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`database did not answer within ${timeoutMs}ms`)), timeoutMs);
  });
  try {
    await Promise.race([pool.query('SELECT 1'), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
