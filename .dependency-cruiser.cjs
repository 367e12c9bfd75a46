/* global module */
/** dependency-cruiser rules, checked by `npm run lint` (`npm run lint:deps`). */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment:
        "Import cycles are not allowed (type-only imports included): move what both sides need into a small module both import.",
      from: {},
      to: { circular: true },
    },
    {
      name: "embedding-through-index",
      severity: "error",
      comment:
        "src/serving and src/client use the embedding layer only through src/embedding/index.ts (extend the index when they need more).",
      from: { path: "^src/(serving|client)/" },
      to: { path: "^src/embedding/", pathNot: "^src/embedding/index\\.ts$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};
