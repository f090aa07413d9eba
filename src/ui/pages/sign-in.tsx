import { useId, useState } from "react";
import { createApi } from "../api.js";
import { ErrorNote } from "../parts/notes.js";

/** Props of SignIn. */
export interface SignInProps {
  /** Called with a token the server accepted (WhoAmI answered). */
  onSignedIn(token: string): void;
}

/**
 * Asks for an API token and checks it with WhoAmI before keeping it. The token
 * is kept in this tab's session storage only.
 */
export function SignIn({ onSignedIn }: SignInProps) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const id = useId();
  return (
    <main className="sign-in">
      <h1>Capstan</h1>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          try {
            await createApi(token.trim()).tokens.whoAmI({});
            onSignedIn(token.trim());
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <label htmlFor={id}>API token</label>
        <input id={id} name="token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} autoFocus />
        <p className="hint">Kept for this browser tab only. Create one with <code>capstan token create</code>.</p>
        <button type="submit" disabled={busy}>Sign in</button>
        <ErrorNote error={error} />
      </form>
    </main>
  );
}
