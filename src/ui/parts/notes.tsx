import { errorText } from "../format.js";

/** The server's error where the action was, announced to screen readers. */
export function ErrorNote({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  return (
    <p className="error" role="alert">
      {errorText(error)}
    </p>
  );
}

/** Shown while the first answer is on its way. */
export function Loading() {
  return <p aria-live="polite">Loading…</p>;
}
