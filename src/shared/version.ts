import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

// src/shared/version.ts sits two folders below package.json; dist/src/shared/version.js three.
const candidates = ["../../package.json", "../../../package.json"].map((p) => fileURLToPath(new URL(p, import.meta.url)));
const path = candidates.find((p) => existsSync(p) && (JSON.parse(readFileSync(p, "utf8")) as { name?: string }).name === "capstan");

/** Capstan's version, from package.json: one source of truth for server and agent. */
export const version: string = path ? (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version : "0.0.0";
