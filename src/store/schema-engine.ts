import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import * as bg from "@prisma/schema-engine-wasm/schema_engine_bg";
import { bindMigrationAwareSqlAdapterFactory, type SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";

// TypeScript's ES lib has no WebAssembly types without DOM; this is the one call we make.
interface WasmApi {
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: Record<string, unknown> } }>;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let ready: Promise<void> | undefined;

/**
 * Loads Prisma's schema engine compiled to Wasm, once per process. Its package
 * entry imports the .wasm as a module, which Node 20 cannot do, so the module
 * is instantiated here by hand (see the offline toolchain notes).
 */
function load(): Promise<void> {
  ready ??= (async () => {
    // require.resolve, not import.meta.resolve: the server's bundle is CommonJS (scripts/bundle.mjs).
    const url = new URL("schema_engine_bg.wasm", pathToFileURL(createRequire(import.meta.url).resolve("@prisma/schema-engine-wasm/schema_engine_bg")));
    const { instance } = await wasmApi.instantiate(await readFile(url), { "./schema_engine_bg.js": bg });
    bg.__wbg_set_wasm(instance.exports as never);
    (instance.exports.__wbindgen_start as () => void)();
  })();
  return ready;
}

/** A schema engine bound to one database through a driver adapter factory. */
export async function createSchemaEngine(adapterFactory: SqlMigrationAwareDriverAdapterFactory): Promise<bg.SchemaEngine> {
  await load();
  return bg.SchemaEngine.new({ datamodels: undefined }, () => undefined, bindMigrationAwareSqlAdapterFactory(adapterFactory));
}
