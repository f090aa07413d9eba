import { useEffect, useRef, useState } from "react";
import { Link } from "wouter";
import { CommandType, JobStatus, type Job } from "../../../gen/proto/capstan/v1/job_pb.js";
import { enumLabel, when } from "../format.js";
import { ActionButton } from "../parts/action-button.js";
import { ErrorNote, Loading } from "../parts/notes.js";
import { useSession } from "../session.js";

const ENDED = new Set([JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT]);

/** One job: its state, and its logs following live (WatchJob) until it ends. */
export function JobPage({ id }: { id: string }) {
  const { api, canWrite } = useSession();
  const [job, setJob] = useState<Job>();
  const [logs, setLogs] = useState<Array<{ stream: string; text: string }>>([]);
  const [following, setFollowing] = useState(false);
  const [error, setError] = useState<unknown>();
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const abort = new AbortController();
    setLogs([]);
    setFollowing(true);
    void (async () => {
      let first = true;
      try {
        for await (const ev of api.deployments.watchJob({ jobId: id }, { signal: abort.signal })) {
          if (!ev.job) continue;
          const fresh = ev.lines.map((l) => ({ stream: l.stream, text: l.text.replace(/\n$/, "") }));
          // The first answer carries what was logged before the page opened.
          const earlier = first && ev.job.logs ? [{ stream: "stdout", text: ev.job.logs.replace(/\n$/, "") }] : [];
          first = false;
          setJob(ev.job);
          if (earlier.length + fresh.length > 0) setLogs((l) => [...l, ...earlier, ...fresh]);
        }
        // The stream ends with the job; read its final state once more.
        const final = (await api.deployments.getJob({ jobId: id })).job;
        if (final) setJob(final);
      } catch (err) {
        if (!abort.signal.aborted) setError(err);
      } finally {
        if (!abort.signal.aborted) setFollowing(false);
      }
    })();
    return () => abort.abort();
  }, [api, id]);
  useEffect(() => {
    const el = box.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [logs]);
  if (!job) return error ? <ErrorNote error={error} /> : <Loading />;
  const status = enumLabel(JobStatus, job.status);
  return (
    <section>
      <h1>Job {job.id}</h1>
      <dl className="facts">
        <dt>Type</dt><dd>{enumLabel(CommandType, job.type)}</dd>
        <dt>Status</dt><dd data-testid="job-status"><span className={`status ${status}`}>{status}</span>{job.error && ` · ${job.error}`}</dd>
        <dt>For</dt><dd>{job.serviceName ? <Link href={`/services/${encodeURIComponent(job.serviceName)}`}>{job.serviceName}</Link> : job.deploymentId ? <Link href={`/deployments/${encodeURIComponent(job.deploymentId)}`}>{job.deploymentId}</Link> : "-"}</dd>
        <dt>Node</dt><dd>{job.nodeId ? <Link href={`/nodes/${encodeURIComponent(job.nodeId)}`}>{job.nodeId}</Link> : "-"}</dd>
        <dt>Created</dt><dd>{when(job.createTime)}</dd>
        <dt>Finished</dt><dd>{when(job.finishTime)}</dd>
      </dl>
      {canWrite && !ENDED.has(job.status) && (
        <div className="actions">
          <ActionButton danger run={() => api.deployments.cancelJob({ jobId: job.id, reason: "cancelled from the dashboard" })}>Cancel job</ActionButton>
        </div>
      )}
      <h2>Logs {following ? "(following)" : ""}</h2>
      <ErrorNote error={error} />
      <pre className="logs" ref={box} tabIndex={0} aria-label="Job logs" data-testid="job-logs">
        {logs.length === 0 ? "(nothing logged yet)" : logs.map((l, i) => <span key={i} className={l.stream}>{l.text + "\n"}</span>)}
      </pre>
    </section>
  );
}
