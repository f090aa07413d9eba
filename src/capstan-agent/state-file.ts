import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** What the agent remembers between runs. */
export interface AgentIdentity {
  nodeId: string;
  nodeToken: string;
  server: string;
}

const FILE = "identity.json";

/** Reads the saved identity; undefined when there is none yet. */
export async function readIdentity(stateDir: string): Promise<AgentIdentity | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(stateDir, FILE), "utf8")) as Partial<AgentIdentity>;
    if (typeof parsed.nodeId === "string" && typeof parsed.nodeToken === "string") {
      return { nodeId: parsed.nodeId, nodeToken: parsed.nodeToken, server: String(parsed.server ?? "") };
    }
    return undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/**
 * Saves the identity readable by the agent's user only: the node token is a
 * credential. Written to a temporary file and renamed, so a crash never
 * leaves half a file.
 */
export async function writeIdentity(stateDir: string, identity: AgentIdentity): Promise<void> {
  await ensurePrivateDir(stateDir);
  const tmp = join(stateDir, `${FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(identity, null, 2), { mode: 0o600 });
  await rename(tmp, join(stateDir, FILE));
}

/** Creates a directory only its owner can enter. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}
