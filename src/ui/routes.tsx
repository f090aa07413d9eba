import type { ComponentType } from "react";
import { Audit } from "./pages/audit.js";
import { Chunks } from "./pages/chunks.js";
import { DeploymentPage } from "./pages/deployment-page.js";
import { Deployments } from "./pages/deployments.js";
import { JobPage } from "./pages/job-page.js";
import { Jobs } from "./pages/jobs.js";
import { NodePage } from "./pages/node-page.js";
import { Nodes } from "./pages/nodes.js";
import { Overview } from "./pages/overview.js";
import { ServicePage } from "./pages/service-page.js";
import { Services } from "./pages/services.js";
import { Tokens } from "./pages/tokens.js";

/** A page: its path under /ui, its label in the navigation (if listed), whether it needs admin. */
export interface PageRoute {
  path: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  component: ComponentType<any>;
  nav?: string;
  admin?: boolean;
}

/** Wraps a page taking one path parameter as a route component. */
function withId(Page: ComponentType<{ id: string }>): ComponentType<{ params: { id: string } }> {
  return ({ params }) => <Page id={decodeURIComponent(params.id)} />;
}

/** Every page of the dashboard. */
export const routes: PageRoute[] = [
  { path: "/", component: Overview, nav: "Overview" },
  { path: "/nodes", component: Nodes, nav: "Nodes" },
  { path: "/nodes/:id", component: withId(NodePage) },
  { path: "/services", component: Services, nav: "Services" },
  { path: "/services/:id", component: withId(ServicePage) },
  { path: "/deployments", component: Deployments, nav: "Deployments" },
  { path: "/deployments/:id", component: withId(DeploymentPage) },
  { path: "/jobs", component: Jobs, nav: "Jobs" },
  { path: "/jobs/:id", component: withId(JobPage) },
  { path: "/chunks", component: Chunks, nav: "Chunks" },
  { path: "/tokens", component: Tokens, nav: "Tokens", admin: true },
  { path: "/audit", component: Audit, nav: "Audit", admin: true },
];
