import { createColumnHelper } from "@tanstack/react-table";
import { useId, useState } from "react";
import { TokenScope, type Token } from "../../../gen/proto/capstan/v1/token_service_pb.js";
import { enumLabel, when } from "../format.js";
import { useLiveQuery } from "../live.js";
import { ActionButton } from "../parts/action-button.js";
import { DataTable } from "../parts/data-table.js";
import { ErrorNote, Loading } from "../parts/notes.js";
import { useSession } from "../session.js";

const col = createColumnHelper<Token>();

/** API tokens (admin): list, create (the secret is shown once), revoke. */
export function Tokens() {
  const { api } = useSession();
  const q = useLiveQuery(() => api.tokens.listTokens({ includeInactive: true, pageSize: 500 }).then((r) => r.tokens), ["tokens"]);
  const columns = [
    col.accessor("name", { header: "Name" }),
    col.accessor((t) => enumLabel(TokenScope, t.scope), { id: "scope", header: "Scope" }),
    col.accessor("createdBy", { header: "Created by" }),
    col.accessor((t) => when(t.createTime), { id: "created", header: "Created" }),
    col.accessor((t) => (t.revokeTime ? `revoked ${when(t.revokeTime)}` : t.expireTime ? `expires ${when(t.expireTime)}` : "active"), { id: "state", header: "State" }),
    col.display({
      id: "revoke",
      header: "Revoke",
      cell: (c) => (c.row.original.revokeTime ? "-" : <ActionButton danger confirm={`Revoke token ${c.row.original.name}?`} run={() => api.tokens.revokeToken({ tokenId: c.row.original.id })} onDone={q.reload}>Revoke {c.row.original.name}</ActionButton>),
    }),
  ];
  return (
    <section>
      <h1>Tokens</h1>
      <ErrorNote error={q.error} />
      {q.data ? <DataTable label="Tokens" rows={q.data} columns={columns} rowId={(t) => t.id} searchable /> : !q.error && <Loading />}
      <CreateToken onCreated={q.reload} />
    </section>
  );
}

function CreateToken({ onCreated }: { onCreated(): void }) {
  const { api } = useSession();
  const [name, setName] = useState("");
  const [scope, setScope] = useState(TokenScope.READ);
  const [secret, setSecret] = useState<string>();
  const [error, setError] = useState<unknown>();
  const id = useId();
  return (
    <form
      className="panel"
      aria-labelledby={`${id}-h`}
      onSubmit={async (e) => {
        e.preventDefault();
        setError(undefined);
        setSecret(undefined);
        try {
          const res = await api.tokens.createToken({ name: name.trim(), scope });
          setSecret(res.secret);
          onCreated();
        } catch (err) {
          setError(err);
        }
      }}
    >
      <h2 id={`${id}-h`}>Create a token</h2>
      <label htmlFor={`${id}-name`}>Name</label>
      <input id={`${id}-name`} value={name} onChange={(e) => setName(e.target.value)} />
      <label htmlFor={`${id}-scope`}>Scope</label>
      <select id={`${id}-scope`} value={scope} onChange={(e) => setScope(Number(e.target.value))}>
        {[TokenScope.READ, TokenScope.WRITE, TokenScope.ADMIN].map((s) => (
          <option key={s} value={s}>{enumLabel(TokenScope, s)}</option>
        ))}
      </select>
      <div className="row">
        <button type="submit" data-mutating="true">Create token</button>
      </div>
      <ErrorNote error={error} />
      {secret && (
        <p role="status">
          The token's secret, shown this once: <code data-testid="token-secret">{secret}</code>
        </p>
      )}
    </form>
  );
}
