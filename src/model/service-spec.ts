import type { PlacementRequirements } from "./placement.js";

/** A port a service listens on (seed 003). */
export interface ServicePortSpec {
  name: string;
  port: number;
  protocol: "tcp" | "udp";
  targetPort: number;
}

/**
 * A declarative service as the domain sees it: seed 003's service spec plus
 * Capstan's image and placement. What an agent needs to run one replica.
 */
export interface ServiceSpec {
  name: string;
  path: string;
  type: string;
  entry: string;
  command: string;
  runtime: string;
  image: string;
  replicas: number;
  ports: ServicePortSpec[];
  env: Record<string, string>;
  resources: { cpu: number; memory: number };
  schedule: string;
  hooks: { beforeStart: string; afterDeploy: string };
  plugins: unknown[];
  autoscaling:
    | {
        enabled: boolean;
        minReplicas: number;
        maxReplicas: number;
        scaleUpThreshold: number;
        scaleDownThreshold: number;
        scaleDownDelaySeconds: number;
      }
    | undefined;
  serverless: unknown;
  labels: Record<string, string>;
  dependencies: string[];
  placement: PlacementRequirements;
  /** How replicas are replaced; absent in specs stored before it existed (defaults apply). */
  update?: UpdatePolicy;

  // --- Schedules, one-off tasks and hooks (issue 16) ---
  /** IANA time zone `schedule` is read in; "" or absent: UTC. */
  scheduleTimeZone?: string;
  /** Whether a scheduled run may start while the previous one runs; absent or false: that time is skipped. */
  scheduleAllowOverlap?: boolean;
}

/**
 * How a service's replicas are replaced (Nomad's update stanza, Kubernetes'
 * rolling update): at most `maxParallel` starting at once (0: the server's
 * MAX_PARALLEL), and at most `maxUnavailable` below the desired count while
 * replacing (default 0: a replacement runs before its old replica stops).
 */
export interface UpdatePolicy {
  maxParallel: number;
  maxUnavailable: number;
}
