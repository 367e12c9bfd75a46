import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "dist/",
      "node_modules/",
      "src/checkpoint/proto/gen/",
      "src/serving/grpc/proto/gen/",
      "demo-model/",
      "coverage/",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  {
    // Environment variables are read in one place (src/flags.ts, docs/performance.md lists them).
    files: ["src/**/*.ts"],
    ignores: ["src/flags.ts"],
    rules: {
      "no-restricted-properties": [
        "error",
        { object: "process", property: "env", message: "Read environment variables in src/flags.ts." },
      ],
    },
  },
);
