/**
 * The QR code the api sends for two-step sign-in set-up (`qrSvg`, an SVG document) rendered safely: never as
 * HTML (no `innerHTML`, no `dangerouslySetInnerHTML`). The document is parsed as XML and rebuilt from an allow-list
 * of drawing elements and attributes; scripts, event handlers, links, `foreignObject`, styles and anything that
 * could fetch (`url(...)`, `href`) are dropped. The app's CSP would block most of that anyway; this makes the QR
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

/** Parses the api's SVG text in the browser; null when it is not a well-formed SVG document. */
export function parseQrSvg(svg: string): SafeSvgNode | null {
  if (typeof DOMParser === 'undefined' || svg.length > 500_000) return null;
  const doc = new DOMParser().parseFromString(svg, 'image/svg+xml');
  if (doc.getElementsByTagName('parsererror').length > 0) return null;
  return sanitizeSvg(doc.documentElement as unknown as NodeLike);
}
