import { describe, expect, it } from 'vitest';
import { groupSecret, recoveryCodesText, setupReducer, type SetupState } from './mfaSetup';
import { parseQrSvg, parseSvgText, sanitizeSvg, type NodeLike } from './qrSvg';
import { describeUserAgent } from './userAgent';

const el = (nodeName: string, attrs: Record<string, string> = {}, children: NodeLike[] = []): NodeLike => ({
  nodeType: 1,
  nodeName,
  attributes: Object.entries(attrs).map(([name, value]) => ({ name, value })),
  childNodes: children,
});
const text = (): NodeLike => ({ nodeType: 3, nodeName: '#text', childNodes: [] });

describe('two-step set-up flow', () => {
  const setup = { secret: 'JBSWY3DPEHPK3PXP', otpauthUri: 'otpauth://totp/x', qrSvg: '<svg/>' };
  it('password -> scan -> recovery codes -> done only once the codes are saved', () => {
    let s: SetupState = { step: 'idle' };
    s = setupReducer(s, { type: 'start' });
    expect(s).toEqual({ step: 'password' });
    s = setupReducer(s, { type: 'enabled', codes: ['x'] });
    expect(s.step).toBe('password');
    s = setupReducer(s, { type: 'setup', setup });
    expect(s).toEqual({ step: 'scan', setup });
    s = setupReducer(s, { type: 'enabled', codes: ['a', 'b'] });
    expect(s).toEqual({ step: 'codes', codes: ['a', 'b'], saved: false });
    expect(setupReducer(s, { type: 'finish' }).step).toBe('codes');
    expect(setupReducer(s, { type: 'cancel' }).step).toBe('codes');
    s = setupReducer(s, { type: 'saved', saved: true });
    expect(setupReducer(s, { type: 'finish' })).toEqual({ step: 'done' });
  });
  it('cancelling before the first code drops the secret', () => {
    expect(setupReducer({ step: 'scan', setup }, { type: 'cancel' })).toEqual({ step: 'idle' });
  });
  it('groups the key for typing and writes the codes file', () => {
    expect(groupSecret('JBSWY3DPEHPK3PXP')).toBe('JBSW Y3DP EHPK 3PXP');
    expect(groupSecret('ABCDEF')).toBe('ABCD EF');
    const t = recoveryCodesText(['aaaa-1111', 'bbbb-2222'], 'ada@example.com', new Date('2025-04-12T10:00:00Z'));
    expect(t).toContain('Account: ada@example.com');
    expect(t).toContain(' 1. aaaa-1111');
    expect(t).toContain(' 2. bbbb-2222');
  });
});

describe('the QR code SVG is rebuilt from an allow-list', () => {
  it('keeps the drawing and drops scripts, handlers, links, foreign content and url()', () => {
    const svg = el('svg', { viewBox: '0 0 21 21', onload: 'alert(1)', xmlns: 'http://www.w3.org/2000/svg' }, [
      el('script', {}, [text()]),
      el('rect', { width: '21', height: '21', style: 'fill:#fff; behavior:url(x)' }),
      el('g', { fill: '#000', onclick: 'x()' }, [el('rect', { x: '1', y: '2', width: '1', height: '1' }), el('path', { d: 'M0 0h1v1H0z', fill: 'url(#evil)' })]),
      el('a', { href: 'javascript:alert(1)' }, [el('rect', { width: '5', height: '5' })]),
      el('foreignObject', {}, [el('div')]),
      el('svg:image', { href: 'https://example.com/x.png' }),
      el('use', { href: '#x' }),
    ]);
    expect(sanitizeSvg(svg)).toEqual({
      tag: 'svg',
      attrs: { viewBox: '0 0 21 21' },
      children: [
        { tag: 'rect', attrs: { width: '21', height: '21', fill: '#fff' }, children: [] },
        {
          tag: 'g',
          attrs: { fill: '#000' },
          children: [
            { tag: 'rect', attrs: { x: '1', y: '2', width: '1', height: '1' }, children: [] },
            { tag: 'path', attrs: { d: 'M0 0h1v1H0z' }, children: [] },
          ],
        },
      ],
    });
  });
  it('refuses a document that is not an SVG', () => {
    expect(sanitizeSvg(el('html', {}, [el('svg')]))).toBeNull();
    expect(sanitizeSvg(el('svg:svg', { width: '10' }))?.attrs).toEqual({ width: '10' });
  });
});

describe('sessions: devices in words', () => {
  it('names the browser and system', () => {
    expect(describeUserAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36')).toBe('Chrome on Windows');
    expect(describeUserAgent('Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1')).toBe('Safari on iOS');
    expect(describeUserAgent('Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0')).toBe('Firefox on Linux');
    expect(describeUserAgent('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0')).toBe('Edge on macOS');
    expect(describeUserAgent('curl/8.5.0')).toBe('curl');
    expect(describeUserAgent(null)).toBe('Unknown device');
    expect(describeUserAgent('something-else/1.0')).toBe('Unknown device');
  });
});

describe('the QR code SVG text is read without the DOM', () => {
  it('reads what a QR library writes', () => {
    const svg =
      '<?xml version="1.0" standalone="yes"?>\n<!-- made by qrcode -->\n<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="200" height="200" viewBox="0 0 29 29" shape-rendering="crispEdges">' +
      '<path fill="#fff" d="M0 0h29v29H0z"/>\n<path fill="#000" d="M4 4h7v1H4z"/></svg>';
    expect(parseQrSvg(svg)).toEqual({
      tag: 'svg',
      attrs: { width: '200', height: '200', viewBox: '0 0 29 29', shapeRendering: 'crispEdges' },
      children: [
        { tag: 'path', attrs: { fill: '#fff', d: 'M0 0h29v29H0z' }, children: [] },
        { tag: 'path', attrs: { fill: '#000', d: 'M4 4h7v1H4z' }, children: [] },
      ],
    });
  });

  it('drops hostile content and decodes entities', () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 2 2" onload="alert(1)"><script>alert("x")</script>' +
      '<![CDATA[ <rect/> ]]><rect width="2" height="2" style="fill:#ffffff"/><g fill="&#x23;000"><rect x=\'1\' y="1" width="1" height="1"/></g>' +
      '<a href="https://example.com"><text>link</text></a><foreignObject><div xmlns="http://www.w3.org/1999/xhtml">html</div></foreignObject></svg>';
    expect(parseQrSvg(svg)).toEqual({
      tag: 'svg',
      attrs: { viewBox: '0 0 2 2' },
      children: [
        { tag: 'rect', attrs: { width: '2', height: '2', fill: '#ffffff' }, children: [] },
        { tag: 'g', attrs: { fill: '#000' }, children: [{ tag: 'rect', attrs: { x: '1', y: '1', width: '1', height: '1' }, children: [] }] },
      ],
    });
  });

  it('refuses what is not well formed', () => {
    expect(parseSvgText('<svg><rect></svg>')).toBeNull();
    expect(parseSvgText('<svg><rect/>')).toBeNull();
    expect(parseSvgText('<svg/><svg/>')).toBeNull();
    expect(parseSvgText('<svg a=b/>')).toBeNull();
    expect(parseSvgText('<!-- no end')).toBeNull();
    expect(parseQrSvg('<html><svg/></html>')).toBeNull();
    expect(parseQrSvg('')).toBeNull();
  });
});
