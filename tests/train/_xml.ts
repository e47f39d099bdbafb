/**
 * A tiny strict XML well-formedness checker and tree builder for the SVG tests: one root,
 * matched tags, quoted unique attributes, only the five predefined entities and numeric
 * character references, no raw `<` or `&` in text or attribute values.
 *
 * @internal
 * @module
 */

/** An element of the parsed tree. */
export interface XmlElement {
  /** Tag name. */
  readonly name: string;
  /** Attributes, entity-decoded. */
  readonly attrs: Readonly<Record<string, string>>;
  /** Child elements, in order. */
  readonly children: XmlElement[];
  /** Concatenated, entity-decoded text directly inside this element. */
  text: string;
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const ENTITIES: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

function decode(raw: string, where: string): string {
  if (raw.includes("<")) throw new SyntaxError(`Raw '<' in ${where}`);
  return raw.replace(/&([^;\s&]*);?/g, (whole, body: string) => {
    if (!whole.endsWith(";")) throw new SyntaxError(`Unterminated entity ${whole} in ${where}`);
    if (body in ENTITIES) return ENTITIES[body] ?? "";
    const num = /^#(\d+)$/.exec(body) ?? /^#x([0-9a-fA-F]+)$/.exec(body);
    if (num?.[1] !== undefined) {
      return String.fromCodePoint(parseInt(num[1], body.startsWith("#x") ? 16 : 10));
    }
    throw new SyntaxError(`Unknown entity &${body}; in ${where}`);
  });
}

/**
 * Parses an XML document strictly.
 *
 * @param text The document.
 * @returns The root element.
 * @throws {SyntaxError} On any well-formedness error.
 */
export function parseXml(text: string): XmlElement {
  let i = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const skipSpace = (): void => {
    while (i < text.length && /\s/.test(text[i] ?? "")) i++;
  };
  const readName = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(text);
    if (m === null) throw new SyntaxError(`Expected a name at ${i}`);
    i += m[0].length;
    return m[0];
  };
  if (text.startsWith("<?xml")) {
    const end = text.indexOf("?>");
    if (end < 0) throw new SyntaxError("Unterminated XML declaration");
    i = end + 2;
  }
  while (i < text.length) {
    if (text.startsWith("<!--", i)) {
      const end = text.indexOf("-->", i + 4);
      if (end < 0) throw new SyntaxError(`Unterminated comment at ${i}`);
      i = end + 3;
    } else if (text.startsWith("</", i)) {
      i += 2;
      const name = readName();
      skipSpace();
      if (text[i] !== ">") throw new SyntaxError(`Expected '>' after </${name} at ${i}`);
      i++;
      const open = stack.pop();
      if (open?.name !== name) {
        throw new SyntaxError(`Mismatched </${name}>, open element is <${open?.name}>`);
      }
    } else if (text[i] === "<") {
      i++;
      const name = readName();
      const attrs: Record<string, string> = {};
      for (;;) {
        const before = i;
        skipSpace();
        if (text.startsWith("/>", i) || text[i] === ">") break;
        if (i === before) throw new SyntaxError(`Expected whitespace before attribute at ${i}`);
        const attr = readName();
        skipSpace();
        if (text[i] !== "=") throw new SyntaxError(`Expected '=' after ${attr} at ${i}`);
        i++;
        skipSpace();
        const quote = text[i];
        if (quote !== '"' && quote !== "'") throw new SyntaxError(`Unquoted ${attr} at ${i}`);
        const end = text.indexOf(quote, i + 1);
        if (end < 0) throw new SyntaxError(`Unterminated ${attr} at ${i}`);
        if (attr in attrs) throw new SyntaxError(`Duplicate attribute ${attr} on <${name}>`);
        attrs[attr] = decode(text.slice(i + 1, end), `${name}@${attr}`);
        i = end + 1;
      }
      const element: XmlElement = { name, attrs, children: [], text: "" };
      const parent = stack.at(-1);
      if (parent !== undefined) parent.children.push(element);
      else if (root === undefined) root = element;
      else throw new SyntaxError(`Second root element <${name}>`);
      if (text.startsWith("/>", i)) {
        i += 2;
      } else {
        i++;
        stack.push(element);
      }
    } else {
      const end = text.indexOf("<", i);
      const raw = text.slice(i, end < 0 ? text.length : end);
      const parent = stack.at(-1);
      if (parent === undefined) {
        if (raw.trim() !== "") throw new SyntaxError(`Text outside the root: ${raw.slice(0, 20)}`);
      } else {
        parent.text += decode(raw, `<${parent.name}> text`);
      }
      i = end < 0 ? text.length : end;
    }
  }
  if (stack.length > 0) throw new SyntaxError(`Unclosed <${stack.at(-1)?.name}>`);
  if (root === undefined) throw new SyntaxError("No root element");
  return root;
}

/**
 * Every element of the tree (depth first, root included) that satisfies `pred`.
 *
 * @param root The tree.
 * @param pred The filter.
 * @returns The matching elements in document order.
 */
export function findAll(root: XmlElement, pred: (e: XmlElement) => boolean): XmlElement[] {
  const out: XmlElement[] = [];
  const visit = (e: XmlElement): void => {
    if (pred(e)) out.push(e);
    e.children.forEach(visit);
  };
  visit(root);
  return out;
}
