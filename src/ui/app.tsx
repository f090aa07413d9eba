import { useEffect, useMemo, useState } from "react";
import { Link, Route, Router, Switch, useRoute } from "wouter";
import { createApi } from "./api.js";
import { LiveContext, startLiveFeed, useLiveStatus, type LiveFeed } from "./live.js";
import { ErrorNote, Loading } from "./parts/notes.js";
import { routes } from "./routes.js";
import { abilities, clearToken, SessionContext, storedToken, storeToken, type Session } from "./session.js";
import { SignIn } from "./pages/sign-in.js";

/** The dashboard: sign-in until a token is accepted, then the pages under /ui. */
export function App() {
  const [token, setToken] = useState<string | null>(storedToken());
  if (token === null) {
    return (
      <SignIn
        onSignedIn={(t) => {
          storeToken(t);
          setToken(t);
        }}
      />
    );
  }
  return (
    <SignedIn
      token={token}
      onSignOut={() => {
        clearToken();
        setToken(null);
      }}
    />
  );
}

function SignedIn({ token, onSignOut }: { token: string; onSignOut: () => void }) {
  const api = useMemo(() => createApi(token), [token]);
  const [session, setSession] = useState<Session>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    api.tokens.whoAmI({}).then(
      (who) => setSession({ api, name: who.name, kind: who.kind, scopes: who.scopes, ...abilities(who.scopes), signOut: onSignOut }),
      (err: unknown) => setError(err),
    );
  }, [api, onSignOut]);
  const [feed, setFeed] = useState<LiveFeed | null>(null);
  useEffect(() => {
    const f = startLiveFeed(api);
    setFeed(f);
    return () => f.close();
  }, [api]);
  if (!session || !feed) {
    return error ? (
      <main>
        <ErrorNote error={error} />
        <button type="button" onClick={onSignOut}>Sign in again</button>
      </main>
    ) : (
      <Loading />
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <LiveContext.Provider value={feed}>
        <Router base="/ui">
          <Shell />
        </Router>
      </LiveContext.Provider>
    </SessionContext.Provider>
  );
}

function Shell() {
  return (
    <SessionContext.Consumer>
      {(s) => (
        <div className="shell">
          <a className="skip" href="#main">Skip to content</a>
          <header>
            <span className="brand">Capstan</span>
            <nav aria-label="Sections">
              <ul>
                {routes.filter((r) => r.nav && (!r.admin || s!.isAdmin)).map((r) => (
                  <li key={r.path}><NavLink path={r.path} label={r.nav!} /></li>
                ))}
              </ul>
            </nav>
            <span className="who">
              <LiveBadge /> {s!.name || s!.kind} ({s!.scopes.join(", ") || "anonymous"})
              <button type="button" className="link" onClick={s!.signOut}>Sign out</button>
            </span>
          </header>
          <main id="main" tabIndex={-1}>
            <Switch>
              {routes.filter((r) => !r.admin || s!.isAdmin).map((r) => (
                <Route key={r.path} path={r.path} component={r.component} />
              ))}
              <Route><p>No such page. <Link href="/">Back to the overview</Link></p></Route>
            </Switch>
          </main>
        </div>
      )}
    </SessionContext.Consumer>
  );
}

function NavLink({ path, label }: { path: string; label: string }) {
  const [exact] = useRoute(path);
  const [nested] = useRoute(`${path}/*`);
  const active = exact || (path !== "/" && nested);
  return (
    <Link href={path} aria-current={active ? "page" : undefined}>
      {label}
    </Link>
  );
}

function LiveBadge() {
  const status = useLiveStatus();
  return <span className={`live ${status}`} role="status">{status}</span>;
}
