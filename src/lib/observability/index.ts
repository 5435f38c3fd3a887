/**
 * Logs, metrics and the diagnostic endpoint every daemon component shares.
 * Import this folder only through this file.
 */
export { type DiagServer, type DiagServerOptions, type ReadyState, startDiagServer } from "./diag.ts";
export { childLogger, createLogger, type Logger, type LoggerOptions, REDACT_PATHS, textDestination } from "./logger.ts";
export {
  buildInfo,
  counter,
  createRegistry,
  gauge,
  histogram,
  LATENCY_BUCKETS,
  METRIC_PREFIX,
  type MetricSpec,
  Registry,
  type RegistryOptions,
} from "./metrics.ts";
export { type RateLimitedLogger, type RateLimitOptions, rateLimitedLogger } from "./ratelimit.ts";
export { CENSOR, censorSecrets, isSecretKey, SECRET_KEYS } from "./secrets.ts";
