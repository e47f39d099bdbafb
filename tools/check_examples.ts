/**
 * Example check: every export reachable from `mod.ts` (function, class, constant, interface and
 * type alias) carries a JSDoc `@example`, which `deno test --doc` then runs.
 *
 * Run: `deno run --allow-run --allow-read tools/check_examples.ts`
 *
 * @module
 */

/** One exported declaration as `deno doc --json` lists it (the fields this check reads). */
export interface DocDeclaration {
  /** `function`, `class`, `variable`, `interface`, `typeAlias`, … */
  readonly kind: string;
  /** Where it is declared. */
  readonly location: { readonly filename: string; readonly line: number };
  /** Its JSDoc, if any. */
  readonly jsDoc?: { readonly tags?: readonly { readonly kind: string }[] };
}

/** One exported symbol with its declarations (several for overloads). */
export interface DocSymbol {
  /** Exported name. */
  readonly name: string;
  /** Its declarations. */
  readonly declarations: readonly DocDeclaration[];
}

const NEEDS_EXAMPLE: ReadonlySet<string> = new Set([
  "function",
  "class",
  "variable",
  "interface",
  "typeAlias",
]);

/**
 * Names the exported symbols that need an `@example` and have none on any declaration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { missingExamples } from "./check_examples.ts";
 *
 * const at = { filename: "file:///x/a.ts", line: 3 };
 * const found = missingExamples([
 *   { name: "f", declarations: [{ kind: "function", location: at }] },
 *   { name: "g", declarations: [{ kind: "function", location: at, jsDoc: { tags: [{ kind: "example" }] } }] },
 *   { name: "T", declarations: [{ kind: "interface", location: at }] },
 * ]);
 * assert.deepEqual(found, ["f (function, file:///x/a.ts:3)", "T (interface, file:///x/a.ts:3)"]);
 * ```
 *
 * @param symbols Symbols from `deno doc --json`.
 * @returns One line per symbol without an example.
 */
export function missingExamples(symbols: readonly DocSymbol[]): string[] {
  const out: string[] = [];
  for (const s of symbols) {
    const relevant = s.declarations.filter((d) => NEEDS_EXAMPLE.has(d.kind));
    if (relevant.length === 0) continue;
    const hasExample = relevant.some((d) => d.jsDoc?.tags?.some((t) => t.kind === "example"));
    if (!hasExample) {
      const d = relevant[0]!;
      out.push(`${s.name} (${d.kind}, ${d.location.filename}:${d.location.line})`);
    }
  }
  return out;
}

if (import.meta.main) {
  const doc = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", "mod.ts"],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!doc.success) Deno.exit(1);
  const json = JSON.parse(new TextDecoder().decode(doc.stdout)) as {
    nodes: Record<string, { symbols?: DocSymbol[] }>;
  };
  const symbols = Object.values(json.nodes).flatMap((n) => n.symbols ?? []);
  const missing = missingExamples(symbols);
  if (missing.length > 0) {
    console.error(
      `Example check failed: ${missing.length} exports lack an @example\n${missing.join("\n")}`,
    );
    Deno.exit(1);
  }
  console.log(
    `Example check passed: every one of ${symbols.length} exports has an @example`,
  );
}
