import { noRequirements } from "../../src/model/placement.js";
import type { Replica } from "../../src/model/replica.js";
import type { ServiceSpec } from "../../src/model/service-spec.js";

/** A service spec with defaults: one replica of `node index.js`. */
export function spec(name: string, over: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name,
    path: ".",
    type: "node",
    entry: "index.js",
    command: "",
    runtime: "node",
    image: "",
    replicas: 1,
    ports: [],
    env: {},
    resources: { cpu: 0, memory: 0 },
    schedule: "",
    hooks: { beforeStart: "", afterDeploy: "" },
    plugins: [],
    autoscaling: undefined,
    serverless: undefined,
    labels: {},
    dependencies: [],
    placement: noRequirements(),
    ...over,
  };
}

let seq = 0;
/** A replica with defaults: running, spec hash "h1". */
export function replica(serviceName: string, nodeId: string, over: Partial<Replica> = {}): Replica {
  seq++;
  return {
    id: `${serviceName}-${seq}`,
    serviceName,
    nodeId,
    status: "running",
    specHash: "h1",
    jobId: `job-${seq}`,
    createdAt: new Date(1_700_000_000_000 + seq * 1000),
    updatedAt: new Date(1_700_000_000_000 + seq * 1000),
    ...over,
  };
}
