import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { useId, useState } from "react";
import { parseAllDocuments } from "yaml";
import { ApplyRequestSchema, type ApplyRequest, type ApplyResponse } from "../../../gen/proto/capstan/v1/deployment_service_pb.js";
import { ErrorNote } from "../parts/notes.js";
import { useSession } from "../session.js";

/**
 * Apply an orion/v1 (or capstan/v1) Config document, pasted or uploaded: the
 * dry run shows the plan first, then Apply makes it so.
 */
export function ApplyForm({ onApplied }: { onApplied(): void }) {
  const { api } = useSession();
  const [text, setText] = useState("");
  const [prune, setPrune] = useState(false);
  const [plan, setPlan] = useState<{ res: ApplyResponse; dryRun: boolean }>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const id = useId();
  const send = async (dryRun: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      const req = parseDocument(text);
      req.dryRun = dryRun;
      req.prune = prune;
      const res = await api.deployments.apply(req);
      setPlan({ res, dryRun });
      if (!dryRun) onApplied();
    } catch (err) {
      setError(err);
      setPlan(undefined);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="panel" aria-labelledby={`${id}-h`} onSubmit={(e) => e.preventDefault()}>
      <h2 id={`${id}-h`}>Apply a document</h2>
      <label htmlFor={`${id}-doc`}>Config document (YAML or JSON)</label>
      <textarea id={`${id}-doc`} rows={10} value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} />
      <div className="row">
        <label>
          Or upload a file{" "}
          <input type="file" accept=".yaml,.yml,.json" onChange={async (e) => setText((await e.target.files?.[0]?.text()) ?? text)} />
        </label>
        <label>
          <input type="checkbox" checked={prune} onChange={(e) => setPrune(e.target.checked)} /> Delete services the document does not name
        </label>
      </div>
      <div className="row">
        <button type="button" disabled={busy} onClick={() => send(true)} data-mutating="true">Dry run</button>
        <button type="button" disabled={busy || !plan?.dryRun} onClick={() => send(false)} data-mutating="true">Apply</button>
      </div>
      <ErrorNote error={error} />
      {plan && <Plan res={plan.res} dryRun={plan.dryRun} />}
    </form>
  );
}

function Plan({ res, dryRun }: { res: ApplyResponse; dryRun: boolean }) {
  const changes = res.plan?.changes ?? [];
  return (
    <div aria-live="polite" data-testid="apply-plan">
      <h3>{dryRun ? "Plan (dry run: nothing changed)" : `Applied: ${res.status}`}</h3>
      {changes.length === 0 ? (
        <p>No change.</p>
      ) : (
        <ul className="plain">
          {changes.map((c) => (
            <li key={c.serviceName}>
              {c.action === "create" ? "+" : c.action === "delete" ? "-" : "~"} {c.serviceName} ({c.action}, replicas {c.fromReplicas} → {c.toReplicas})
              {Object.keys(c.placements).length > 0 && <> · new replicas on: {[...new Set(Object.values(c.placements))].join(", ")}</>}
              {c.unplaced.length > 0 && <> · cannot place: {c.unplaced.join("; ")}</>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The document as an Apply request; env and label values YAML read as numbers become the strings meant. */
function parseDocument(text: string): ApplyRequest {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new Error("not a YAML or JSON document");
  const real = docs.filter((d) => d.contents !== null);
  if (real.length !== 1) throw new Error(`the text holds ${real.length} documents; apply takes one Config document`);
  if (real[0].errors.length > 0) throw new Error(real[0].errors[0].message);
  const value = real[0].toJS() as { spec?: { services?: unknown } } | null;
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("the document is not a mapping");
  for (const s of Array.isArray(value.spec?.services) ? value.spec.services : []) {
    for (const key of ["env", "labels"]) {
      const m = (s as Record<string, unknown>)?.[key];
      if (m && typeof m === "object") for (const [k, v] of Object.entries(m)) if (typeof v !== "string") (m as Record<string, unknown>)[k] = String(v);
    }
  }
  return fromJson(ApplyRequestSchema, value as JsonValue);
}
