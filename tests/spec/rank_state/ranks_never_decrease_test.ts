import assert from "node:assert/strict";
import { fc } from "../../_fc.ts";
import { allocationCaseArb, runAllocation } from "../../arbitraries.ts";

Deno.test("allocate() never decreases a rank, and grows exactly the granted modules", () => {
  fc.assert(
    fc.property(allocationCaseArb(), (c) => {
      for (const { before, decision } of runAllocation(c)) {
        const granted = new Map(decision.grown.map((g) => [g.index, g.amount]));
        decision.state.ranks.forEach((r, i) => {
          const old = before.ranks[i] ?? Number.NaN;
          assert.ok(r >= old);
          assert.equal(r, old + (granted.get(i) ?? 0));
        });
      }
    }),
  );
});
