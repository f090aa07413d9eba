import { createRouterTransport, type ConnectRouter, type Interceptor, type Transport } from "@connectrpc/connect";
import { pino } from "pino";
import { wireApp, type BuiltApp } from "../../src/app/build-app.js";
import { createRoutes, routerOptions, rpcInterceptors } from "../../src/app/routes.js";
import { loadConfig } from "../../src/config/config.js";
import { REDACT_PATHS } from "../../src/shared/logger.js";
import { memoryStores, type MemoryStores } from "../fakes/memory-stores.js";

/** The admin secret every router app is configured with (CAPSTAN_ADMIN_TOKEN). */
export const ADMIN_TOKEN = "cap_router-app-admin-secret";

/** The real parts over memory stores, reached through in-process transports: no database, no port. */
export interface RouterApp {
  app: BuiltApp<MemoryStores>;
  /** createRoutes over the app's handlers, as the server registers them. */
  routes: (router: ConnectRouter) => void;
  /** A router transport through the server's interceptors, calling as the admin operator. */
  transport: Transport;
  /** The same transport with no credentials, or the caller's own: what the REST gateway is given. */
  bare: Transport;
  logs: string[];
  stop(): Promise<void>;
}

/**
 * Wires the app as buildApp does, but over memory stores (test/fakes), and
 * serves its routes through createRouterTransport, as connect-es' examples
 * test handlers: handlers, interceptors, error mapping and the access guard
 * are the real ones. Dev mode is off, so every call needs credentials; pass
 * env to change any setting.
 */
export async function startRouterApp(env: Record<string, string> = {}): Promise<RouterApp> {
  const config = loadConfig({ CAPSTAN_DEV: "0", RATE_LIMIT: "0", CAPSTAN_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: "debug", ...env }, false);
  const logs: string[] = [];
  const logger = pino({ level: "debug", redact: { paths: REDACT_PATHS, censor: "[redacted]" } }, { write: (line: string) => void logs.push(line) });
  const app = await wireApp(memoryStores(), config, logger);
  const routes = createRoutes(app.handlers);
  const options = routerOptions(rpcInterceptors(app.pipeline, app.tokens), config.limits.maxMessageBytes);
  const asAdmin: Interceptor = (next) => (req) => {
    if (!req.header.has("authorization")) req.header.set("authorization", `Bearer ${ADMIN_TOKEN}`);
    return next(req);
  };
  return {
    app,
    routes,
    transport: createRouterTransport(routes, { router: options, transport: { interceptors: [asAdmin] } }),
    bare: createRouterTransport(routes, { router: options }),
    logs,
    stop: () => app.stop(),
  };
}
