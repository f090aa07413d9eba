import { InvalidArgumentError } from "./errors.js";
import { listOrder } from "./pagination.js";

/** Parses "k=v,k2=v2" into pairs; an empty selector matches everything. */
export function parseLabelSelector(selector: string): Array<[string, string]> {
  if (selector.trim() === "") return [];
  return selector.split(",").map((part) => {
    const eq = part.indexOf("=");
    const key = part.slice(0, eq).trim();
    if (eq <= 0 || key === "") throw new InvalidArgumentError("label_selector", `"${part}" is not key=value`);
    return [key, part.slice(eq + 1).trim()];
  });
}

/** Nodes are listed by id (NodeState keeps them sorted that way). */
export const NODE_ORDER = listOrder<{ id: string }>({ name: "nodes.id", parts: ["string"], key: (n) => [n.id] });
/** The same order over bare ids (its tokens are NODE_ORDER's). */
export const NODE_ID_ORDER = listOrder<string>({ name: NODE_ORDER.name, parts: NODE_ORDER.parts, key: (id) => [id] });
