import assert from "node:assert/strict";
import { findAll, parseXml } from "./_xml.ts";

Deno.test("parseXml() builds the tree and decodes entities", () => {
  const root = parseXml(
    '<?xml version="1.0"?><svg a="1 &amp; 2"><!-- c --><text>x &lt; y&#33;</text><g/></svg>\n',
  );
  assert.equal(root.attrs.a, "1 & 2");
  assert.deepEqual(root.children.map((c) => c.name), ["text", "g"]);
  assert.equal(findAll(root, (e) => e.name === "text")[0]?.text, "x < y!");
});

Deno.test("parseXml() rejects documents that are not well-formed", () => {
  for (
    const bad of [
      "<svg>",
      "<svg></g>",
      "<svg><g></svg></g>",
      "<svg a=1/>",
      '<svg a="1" a="2"/>',
      '<svg a="<"/>',
      "<svg>a & b</svg>",
      "<svg>&nbsp;</svg>",
      "<svg/><svg/>",
      "text<svg/>",
      '<svg a="1"b="2"/>',
      "",
    ]
  ) {
    assert.throws(() => parseXml(bad), SyntaxError, bad);
  }
});
