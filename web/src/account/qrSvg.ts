/**
 * The QR code the api sends for two-step sign-in set-up (`qrSvg`, an SVG document) rendered safely: never as
 * HTML (no `innerHTML`, no `dangerouslySetInnerHTML`), and not even through the browser's DOMParser (whose document
 * would still see, and report to the CSP, an `onload` or a `style` it is handed). The text is read by a small
 * tokenizer of its own (elements and quoted attributes; text, comments and declarations skipped) and rebuilt from an
 * allow-list of drawing elements and attributes; scripts, event handlers, links, `foreignObject`, styles and anything
 * that could fetch (`url(...)`, `href`) are dropped. The app's CSP would block most of that anyway; this makes the QR
 * code independent of it. Inline `style` declarations of the few painting properties are kept as attributes (the
 * CSP refuses style attributes).
 */

/** The part of a DOM node this module reads (a real DOM node, or a test's stand-in). */
export interface NodeLike {
  nodeType: number;
  nodeName: string;
  attributes?: ArrayLike<{ name: string; value: string }> | null;
  childNodes: ArrayLike<NodeLike>;
}

export interface SafeSvgNode {
  tag: 'svg' | 'g' | 'path' | 'rect' | 'polygon' | 'circle';
  attrs: Record<string, string>;
  children: SafeSvgNode[];
}

const ELEMENTS = new Set(['svg', 'g', 'path', 'rect', 'polygon', 'circle']);
/** Attribute name (as in SVG) -> React prop. */
const ATTRIBUTES: Record<string, string> = {
  viewBox: 'viewBox',
  viewbox: 'viewBox',
  width: 'width',
  height: 'height',
  x: 'x',
  y: 'y',
  d: 'd',
  points: 'points',
  cx: 'cx',
  cy: 'cy',
  r: 'r',
  fill: 'fill',
  stroke: 'stroke',
  'stroke-width': 'strokeWidth',
  'fill-rule': 'fillRule',
  'clip-rule': 'clipRule',
  'shape-rendering': 'shapeRendering',
  transform: 'transform',
  preserveAspectRatio: 'preserveAspectRatio',
};
const STYLE_PROPERTIES = new Set(['fill', 'stroke', 'stroke-width', 'shape-rendering', 'fill-rule']);
const ELEMENT_NODE = 1;
const MAX_NODES = 20_000;

/** A value is safe when it cannot name a resource or run anything. */
function safeValue(value: string): boolean {
  return value.length <= 200_000 && !/url\s*\(|javascript:|data:|expression\s*\(|[<>]/i.test(value);
}

function localName(nodeName: string): string {
  const at = nodeName.indexOf(':');
  return (at >= 0 ? nodeName.slice(at + 1) : nodeName).toLowerCase();
}

function readAttributes(node: NodeLike): Record<string, string> {
  const attrs: Record<string, string> = {};
  const list = node.attributes ?? [];
  for (let i = 0; i < list.length; i++) {
    const a = list[i];
    if (!a) continue;
    if (a.name === 'style') {
      for (const decl of a.value.split(';')) {
        const [prop, ...rest] = decl.split(':');
        const name = prop?.trim().toLowerCase() ?? '';
        const value = rest.join(':').trim();
        const react = ATTRIBUTES[name];
        if (STYLE_PROPERTIES.has(name) && react && value && safeValue(value)) attrs[react] = value;
      }
      continue;
    }
    const react = ATTRIBUTES[a.name];
    if (react && safeValue(a.value)) attrs[react] = a.value;
  }
  return attrs;
}

/** The allowed tree under `root` (an `<svg>` element), or null when the root is not one. */
export function sanitizeSvg(root: NodeLike): SafeSvgNode | null {
  let budget = MAX_NODES;
  const walk = (node: NodeLike): SafeSvgNode | null => {
    if (node.nodeType !== ELEMENT_NODE || budget-- <= 0) return null;
    const tag = localName(node.nodeName);
    if (!ELEMENTS.has(tag)) return null;
    const children: SafeSvgNode[] = [];
    for (let i = 0; i < node.childNodes.length; i++) {
      const child = node.childNodes[i];
      const safe = child ? walk(child) : null;
      if (safe) children.push(safe);
    }
    return { tag: tag as SafeSvgNode['tag'], attrs: readAttributes(node), children };
  };
  if (localName(root.nodeName) !== 'svg') return null;
  return walk(root);
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (all, e: string) => {
    if (e[0] === '#') {
      const n = e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
      return Number.isFinite(n) && n > 0 && n < 0x110000 ? String.fromCodePoint(n) : '';
    }
    return ENTITIES[e.toLowerCase()] ?? all;
  });
}

const TAG = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/y;
const ATTR = /([A-Za-z_:][\w:.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

/**
 * The element tree of an SVG document's text, or null when it is not well formed (an unclosed or mismatched tag,
 * a stray `<`). Only elements and their attributes are kept: text, comments, CDATA and declarations are skipped.
 */
export function parseSvgText(svg: string): NodeLike | null {
  if (svg.length > 500_000) return null;
  const root: NodeLike & { childNodes: NodeLike[] } = { nodeType: 9, nodeName: '#document', childNodes: [] };
  const stack: (NodeLike & { childNodes: NodeLike[] })[] = [root];
  let i = 0;
  while (i < svg.length) {
    const lt = svg.indexOf('<', i);
    if (lt < 0) break;
    if (svg.startsWith('<!--', lt)) {
      const end = svg.indexOf('-->', lt + 4);
      if (end < 0) return null;
      i = end + 3;
      continue;
    }
    if (svg.startsWith('<![CDATA[', lt)) {
      const end = svg.indexOf(']]>', lt);
      if (end < 0) return null;
      i = end + 3;
      continue;
    }
    if (svg.startsWith('<?', lt) || svg.startsWith('<!', lt)) {
      const end = svg.indexOf('>', lt);
      if (end < 0) return null;
      i = end + 1;
      continue;
    }
    TAG.lastIndex = lt;
    const m = TAG.exec(svg);
    if (!m) return null;
    i = TAG.lastIndex;
    const [, closing, name, attrText, selfClosing] = m as unknown as [string, string, string, string, string];
    const parent = stack[stack.length - 1] as NodeLike & { childNodes: NodeLike[] };
    if (closing) {
      if (stack.length < 2 || parent.nodeName !== name) return null;
      stack.pop();
      continue;
    }
    const attributes: { name: string; value: string }[] = [];
    for (const a of attrText.matchAll(ATTR)) attributes.push({ name: a[1] as string, value: decode(a[2] ?? a[3] ?? '') });
    const node = { nodeType: 1, nodeName: name, attributes, childNodes: [] as NodeLike[] };
    parent.childNodes.push(node);
    if (!selfClosing) stack.push(node);
  }
  if (stack.length !== 1) return null;
  const elements = root.childNodes.filter((n) => n.nodeType === 1);
  return elements.length === 1 ? (elements[0] as NodeLike) : null;
}

/** The api's SVG text as a safe tree; null when it is not a well-formed SVG document. */
export function parseQrSvg(svg: string): SafeSvgNode | null {
  const root = parseSvgText(svg);
  return root ? sanitizeSvg(root) : null;
}
