/**
 * The dependency rules CI enforces (`npm run check:deps`): no import cycle
 * between files (type-only imports included: they are cycles for a reader
 * too) and none between folders, so the folder graph of src/ stays a
 * layering that the README's architecture section can draw.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: "no-file-cycles",
      comment: "A file must not import itself through other files.",
      severity: "error",
      from: { path: "^(src|test|bench|scripts)/" },
      to: { circular: true },
    },
    {
      name: "no-folder-cycles",
      comment: "Folders of src/ form a layering: no folder reaches itself through others.",
      severity: "error",
      scope: "folder",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "agent-uses-only-the-contract",
      comment: "The reference agent is a separate program: it shares only gen/ and src/shared/ with the server.",
      severity: "error",
      from: { path: "^src/capstan-agent/" },
      to: { path: "^src/", pathNot: "^src/(capstan-agent|shared)/" },
    },
    {
      name: "cli-uses-only-the-contract",
      comment: "The capstan CLI is a separate program: it shares only gen/ and src/shared/ with the server.",
      severity: "error",
      from: { path: "^src/cli/" },
      to: { path: "^src/", pathNot: "^src/(cli|shared)/" },
    },
    {
      name: "ui-uses-only-the-contract",
      comment: "The web dashboard runs in the browser: it imports only the generated contract (gen/proto) and its own code.",
      severity: "error",
      from: { path: "^src/ui/" },
      to: { path: "^(src|gen)/", pathNot: "^(src/ui/|gen/proto/)" },
    },
    {
      name: "nothing-imports-the-ui",
      comment: "The dashboard is a separate program, bundled by scripts/bundle-ui.mjs; the server serves its files, never imports them. Unit tests may import its pure modules.",
      severity: "error",
      from: { path: "^(src|test|bench|scripts)/", pathNot: "^(src/ui/|test/unit/ui-)" },
      to: { path: "^src/ui/" },
    },
    {
      name: "prisma-only-in-store",
      comment: "src/store is the only Prisma user.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/store/" },
      to: { path: "(^gen/prisma/|@prisma/)" },
    },
    {
      name: "model-is-the-bottom",
      comment: "The model (types, validation, errors, store interfaces) depends on nothing but shared utilities.",
      severity: "error",
      from: { path: "^src/model/" },
      to: { path: "^(src|gen)/", pathNot: "^src/(model|shared)/" },
    },
    {
      name: "orchestrator-is-pure",
      comment: "Decisions take a snapshot and return a plan: no store, sessions, RPC or I/O.",
      severity: "error",
      from: { path: "^src/orchestrator/" },
      to: { path: "^(src/(store|sessions|rpc|services|gateway|server|managers|app)/|gen/)" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    exclude: { path: "^gen/" },
  },
};
