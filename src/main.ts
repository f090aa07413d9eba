import { ConfigError, loadConfig } from "./config/config.js";
import { createLogger } from "./shared/logger.js";
import { StoreInUseError } from "./store/sqlite-lock.js";
import { buildApp } from "./app/build-app.js";
import { listen } from "./app/server.js";

/**
 * Entry point: configuration, then the app (built, then listening), then
 * signals. A bad configuration stops here with a message naming the variable,
 * before anything opens.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`capstan: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config);
  const app = await listen(await buildApp(config, logger));
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err: unknown) => {
  if (err instanceof StoreInUseError) {
    process.stderr.write(`capstan: cannot start: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`capstan: failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
