import type { AgentSession, SessionDirectory } from "../model/agent-session.js";

/**
 * Which agent is connected where: at most one live session per node. A new
 * session for a node replaces the old one, which is closed.
 */
export class SessionRegistry implements SessionDirectory {
  private readonly sessions = new Map<string, AgentSession>();
  private readonly attachListeners = new Set<(session: AgentSession) => void>();
  private readonly detachListeners = new Set<(session: AgentSession) => void>();

  /** Makes session the node's live one, closing any previous one. */
  attach(session: AgentSession): void {
    const previous = this.sessions.get(session.nodeId);
    this.sessions.set(session.nodeId, session);
    if (previous && previous !== session) {
      previous.close("replaced by a newer connection from the same node");
      for (const l of this.detachListeners) l(previous);
    }
    for (const l of this.attachListeners) l(session);
  }

  /** Forgets session if it is still the node's live one. */
  detach(session: AgentSession): void {
    if (this.sessions.get(session.nodeId) !== session) return;
    this.sessions.delete(session.nodeId);
    for (const l of this.detachListeners) l(session);
  }

  /** The node's live session, if any. */
  get(nodeId: string): AgentSession | undefined {
    return this.sessions.get(nodeId);
  }

  /** Whether the node has a live session. */
  isConnected(nodeId: string): boolean {
    return this.sessions.has(nodeId);
  }

  /** How many agents are connected. */
  get size(): number {
    return this.sessions.size;
  }

  /** Every live session. */
  list(): AgentSession[] {
    return [...this.sessions.values()];
  }

  /** Called after a session becomes live. */
  onAttach(listener: (session: AgentSession) => void): () => void {
    this.attachListeners.add(listener);
    return () => this.attachListeners.delete(listener);
  }

  /** Called after a session stops being live. */
  onDetach(listener: (session: AgentSession) => void): () => void {
    this.detachListeners.add(listener);
    return () => this.detachListeners.delete(listener);
  }

  /** Closes every session, e.g. at shutdown. */
  closeAll(reason: string): void {
    for (const s of [...this.sessions.values()]) s.close(reason);
    this.sessions.clear();
  }
}
