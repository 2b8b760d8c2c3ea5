// The claim's two column lists (runtime/db/sql/fragments.ts) must stay in step: the CTE's
// RETURNING and the final select name the same columns in the same order, and the extra row
// that carries no job has one null per column.
import { describe, expect, it } from "vitest";
import { CLAIMED_COLUMNS_IN_CTE, CLAIMED_FROM_CTE, NO_CLAIMED_COLUMNS } from "../runtime/db/sql/fragments.js";

/** The output names of a select list: `expr as name`, or the column of `alias.column`. */
function outputNames(list: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of list) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      items.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  items.push(current);
  return items.map((item) => {
    const named = /\bas\s+(\w+)\s*$/.exec(item.trim());
    return named ? named[1]! : /(\w+)\s*$/.exec(item.trim())![1]!;
  });
}

describe("claim column lists", () => {
  it("the CTE's RETURNING and the final select name the same columns in the same order", () => {
    const inCte = outputNames(CLAIMED_COLUMNS_IN_CTE);
    expect(inCte).toHaveLength(16);
    expect(outputNames(CLAIMED_FROM_CTE)).toEqual(inCte);
    expect(inCte).toContain("payload");
  });

  it("the final select reads every column from the CTE, and the no-job row has one null per column", () => {
    for (const item of CLAIMED_FROM_CTE.split(",")) expect(item.trim()).toMatch(/^claimed\.\w+/);
    expect(NO_CLAIMED_COLUMNS.split(",").map((s) => s.trim())).toEqual(outputNames(CLAIMED_COLUMNS_IN_CTE).map(() => "null"));
  });
});
