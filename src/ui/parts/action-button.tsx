import { useState, type ReactNode } from "react";
import { ErrorNote } from "./notes.js";

/** Props of ActionButton. */
export interface ActionButtonProps {
  children: ReactNode;
  /** The call; its error is shown next to the button. */
  run: () => Promise<unknown>;
  /** Asks before running (deletes). */
  confirm?: string;
  danger?: boolean;
  onDone?: () => void;
}

/** A button for one mutating call: busy while it runs, the server's error shown beside it. */
export function ActionButton({ children, run, confirm, danger, onDone }: ActionButtonProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  return (
    <span className="action">
      <button
        type="button"
        className={danger ? "danger" : undefined}
        disabled={busy}
        data-mutating="true"
        onClick={async () => {
          if (confirm && !window.confirm(confirm)) return;
          setBusy(true);
          setError(undefined);
          try {
            await run();
            onDone?.();
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        {children}
      </button>
      <ErrorNote error={error} />
    </span>
  );
}
