import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const require = createRequire(import.meta.url);

/** Debian's Chromium (scripts/ci/chromium.sh installs it in CI), or CHROMIUM_PATH. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** The viewports every tested page is checked at: a laptop and a phone. */
export const VIEWPORTS = { desktop: { width: 1366, height: 768 }, phone: { width: 390, height: 844 } } as const;

/**
 * Builds the dashboard as `npm run build` does (scripts/bundle-ui.mjs) into a
 * folder of its own, for DASHBOARD_DIR: test files running side by side never
 * share (or delete) each other's build.
 */
export function buildDashboard(): string {
  const out = join(mkdtempSync(join(tmpdir(), "capstan-ui-")), "ui");
  const r = spawnSync(process.execPath, [join(ROOT, "scripts/bundle-ui.mjs"), out], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`dashboard build failed: ${r.stderr}${r.stdout}`);
  return out;
}

/** Headless Chromium driven by playwright-core, as the docs test launches it. Fails loudly when missing. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (bash scripts/ci/chromium.sh)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** Signs in at /ui with the keyboard only: focus starts in the token field, Enter submits. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/ui/`);
  await page.getByLabel("API token").waitFor({ timeout: 30_000 });
  await page.keyboard.type(token);
  await page.keyboard.press("Enter");
  await page.getByRole("navigation", { name: "Sections" }).waitFor({ timeout: 30_000 });
}

/** A violation axe-core found, as much as a failure message needs. */
export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core in the page (evaluated over the DevTools protocol, which the
 * page's CSP does not govern) and returns the serious and critical violations.
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  const source = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  await page.evaluate(source);
  const found = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(ctx: unknown, o: unknown): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }> }> } }).axe;
    const r = await axe.run((globalThis as unknown as { document: unknown }).document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => JSON.stringify(n.target)) }));
  });
  return found.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** Saves a screenshot of the page for the README, as docs/images/dashboard-NAME.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = join(ROOT, "docs", "images");
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `dashboard-${name}.png`), fullPage: false });
}

/** True when the page is no wider than its viewport (nothing sideways to scroll but tables). */
export async function fitsViewport(page: Page): Promise<boolean> {
  return page.evaluate<boolean>("document.documentElement.scrollWidth <= window.innerWidth + 1");
}

/**
 * Collects what the page's Content-Security-Policy refused (Chromium reports each on the
 * console): the dashboard must need nothing the policy forbids.
 */
export function recordCspViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) seen.push(m.text());
  });
  return seen;
}
