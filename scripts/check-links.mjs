/* global console, process */
// Checks every relative link in the project's Markdown files (README.md, CONTRIBUTING.md, docs/, bench/):
// the file must exist and, for `file.md#anchor` or `#anchor`, the heading must exist (GitHub's slugs).
// Also every docs/*.md or bench/results/*.md that a code comment cites.
// Part of `npm run lint`; exits 1 and lists the broken links.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SKIP = new Set(["node_modules", "dist", "build", "fixtures", "demo-model", ".git", "_incoming"]);

function markdownFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name) || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...markdownFiles(path));
    else if (name.endsWith(".md")) out.push(path);
  }
  return out;
}

/** The text outside fenced code blocks and inline code spans. */
function prose(text) {
  let fenced = false;
  return text
    .split("\n")
    .map((line) => {
      if (line.startsWith("```")) {
        fenced = !fenced;
        return "";
      }
      return fenced ? "" : line.replace(/`[^`]*`/g, "``");
    })
    .join("\n");
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(text) {
  const seen = new Map();
  const out = new Set();
  let fenced = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

const problems = [];
let checked = 0;
for (const file of markdownFiles(root)) {
  const text = readFileSync(file, "utf8");
  for (const m of prose(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = m[1];
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    checked++;
    const [path, anchor] = target.split("#", 2);
    const dest = path === "" ? file : resolve(dirname(file), path);
    const where = `${relative(root, file)}: (${target})`;
    if (!existsSync(dest)) {
      problems.push(`${where}: ${relative(root, dest)} does not exist`);
      continue;
    }
    if (anchor !== undefined && dest.endsWith(".md") && !anchors(readFileSync(dest, "utf8")).has(anchor)) {
      problems.push(`${where}: no heading #${anchor} in ${relative(root, dest)}`);
    }
  }
}
// Code comments cite docs by path from the repository root (docs/<page>, bench/results/<report>).
function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name) || name === "gen") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mjs|js|cjs|c|h|gyp)$/.test(name)) out.push(path);
  }
  return out;
}
for (const dir of ["src", "bench", "native", "assembly", "scripts", "test"]) {
  if (!existsSync(join(root, dir))) continue;
  for (const file of sourceFiles(join(root, dir))) {
    for (const m of readFileSync(file, "utf8").matchAll(/\b((?:docs|bench\/results)\/[\w.-]+\.md)\b/g)) {
      checked++;
      if (!existsSync(join(root, m[1])))
        problems.push(`${relative(root, file)}: cites ${m[1]}, which does not exist`);
    }
  }
}

if (problems.length > 0) {
  console.error(`Broken links (${problems.length}):\n${problems.join("\n")}`);
  process.exit(1);
}
console.log(`check-links: ${checked} relative links and cited docs OK`);
