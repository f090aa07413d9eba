import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { buildApp, type AppIo } from "./build-app.js";
import { listen, type App } from "./server.js";

export type { App } from "./server.js";
export type { AppIo, AppStores, BuiltApp } from "./build-app.js";
export { SERVICES } from "./routes.js";

/**
 * The composition root in one call, for main.ts, the end-to-end tests and the
 * benchmarks: build every part from the configuration (build-app.ts), then
 * serve them on one port (server.ts). Each step can also be taken alone:
 * routes.ts gives the handlers to in-process transports without a server.
 */
export async function startApp(config: Config, logger: Logger, io: AppIo = {}): Promise<App> {
  return listen(await buildApp(config, logger, io));
}
