import { pino, type Logger } from "pino";

/**
 * Paths of secrets that must never reach a log line, wherever they appear in
 * logged objects (request headers, tokens, deployment env).
 */
export const REDACT_PATHS = [
  "token",
  "*.token",
  "nodeToken",
  "*.nodeToken",
  "joinToken",
  "*.joinToken",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "env",
  "*.env",
  "password",
  "*.password",
];

/** Creates the root logger: JSON by default, pretty when a person is watching. */
export function createLogger(config: { logLevel: string; logPretty: boolean }): Logger {
  return pino({
    level: config.logLevel,
    base: { service: "capstan" },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    transport: config.logPretty ? { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss.l" } } : undefined,
  });
}
