import { createContext, useContext } from "react";
import type { Api } from "./api.js";

const KEY = "capstan.token";

/** The token of this browser tab's session (sessionStorage: gone when the tab closes). */
export function storedToken(): string | null {
  return sessionStorage.getItem(KEY);
}

/** Keeps the token for this tab only. */
export function storeToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

/** Forgets the token. */
export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}

/** Who is signed in and what they may do, from WhoAmI. */
export interface Session {
  api: Api;
  name: string;
  kind: string;
  scopes: string[];
  /** write or admin: mutating actions are offered. */
  canWrite: boolean;
  /** admin: tokens, audit, deletes, drain and eligibility are offered. */
  isAdmin: boolean;
  signOut(): void;
}

/** The signed-in session, for every page. */
export const SessionContext = createContext<Session | null>(null);

/** The signed-in session; pages render only inside one. */
export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside a signed-in session");
  return s;
}

/** What a token's scopes allow, as the server's access levels say (admin > write > read). */
export function abilities(scopes: readonly string[]): { canWrite: boolean; isAdmin: boolean } {
  const isAdmin = scopes.includes("admin");
  return { isAdmin, canWrite: isAdmin || scopes.includes("write") };
}
