// Measures the executed walkthrough in JupyterLab (tests/test_notebook_browser.py): run with
// execute_script; returns the figures the test asserts.
const ROOTS = '.reprokit';
function rgba(s) {
  const m = s.match(/rgba?\(([^)]+)\)/);
  if (!m) return [0, 0, 0, 0];
  const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
}
function over(top, bottom) {  // top composited over an opaque bottom
  const a = top[3];
  return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat([1]);
}
function background(el) {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  let bg = [255, 255, 255, 1];
  for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
  return bg;
}
function lum(c) {
  const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
}
function contrast(el) {
  const bg = background(el);
  const fg = over(rgba(getComputedStyle(el).color), bg);
  const [l1, l2] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (l1 + 0.05) / (l2 + 0.05);
}
// the line breaks inside one whitespace-free word, and the character before each
function wordBreaks(cell) {
  const bad = [];
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let prevTop = null, prevChar = ' ';
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (/\s/.test(ch)) { prevChar = ' '; continue; }
      range.setStart(node, i); range.setEnd(node, i + 1);
      const r = range.getClientRects()[0];
      if (!r) continue;
      if (prevTop !== null && r.top > prevTop + 2 && prevChar !== ' ' && !'/-_.,:=&'.includes(prevChar)) {
        bad.push(text.slice(Math.max(0, i - 12), i) + '|' + text.slice(i, i + 12));
      }
      prevTop = r.top; prevChar = ch;
    }
  }
  return bad;
}
const NUMERIC = /^[-+]?[\d.,]+\s*(%|[KMGT]?i?B|s|ms)?$/;
// a header over a column of numbers is right-aligned with them
function numericColumn(cell) {
  if (cell.tagName !== 'TH') return false;
  const body = cell.closest('table').tBodies[0];
  const values = Array.from(body ? body.rows : []).map(r => (r.cells[cell.cellIndex] || {}).textContent || '')
    .map(v => v.trim()).filter(Boolean);
  return values.length > 0 && values.every(v => NUMERIC.test(v));
}
const out = {roots: 0, mathjax: 0, misaligned: [], broken: [], contrast: [], danger: 0,
             overflow: [], heights: [], cells: 0, widgets: 0};
const roots = Array.from(document.querySelectorAll(ROOTS)).filter(r => !r.parentElement.closest(ROOTS));
out.roots = roots.length;
out.heights = roots.map(r => Math.round(r.getBoundingClientRect().height));
for (const r of roots) {
  out.mathjax += r.querySelectorAll('mjx-container, .MathJax, .MathJax_Preview').length;
  if (r.scrollWidth > r.clientWidth + 1) out.overflow.push(r.className + ' ' + r.scrollWidth + '>' + r.clientWidth);
  const area = r.closest('.jp-OutputArea-output');
  if (area && area.scrollWidth > area.clientWidth + 1) out.overflow.push('area ' + area.scrollWidth + '>' + area.clientWidth);
}
// Markdown cells that render reprokit's Markdown: no math either
for (const md of document.querySelectorAll('.jp-MarkdownOutput')) {
  if (md.textContent.includes('reprokit')) out.mathjax += md.querySelectorAll('mjx-container').length;
}
const cells = [];
for (const r of roots) cells.push(...r.querySelectorAll('th, td'));
for (const t of document.querySelectorAll('.jp-OutputArea-output table.dataframe')) cells.push(...t.querySelectorAll('th, td'));
out.cells = cells.length;
for (const c of cells) {
  const text = c.textContent.trim();
  if (!text || c.getBoundingClientRect().width === 0) continue;
  const align = getComputedStyle(c).textAlign;
  const isRk = !!c.closest(ROOTS);
  if (isRk && !NUMERIC.test(text) && !numericColumn(c) && !['left', 'start', 'center'].includes(align)) {
    out.misaligned.push(text.slice(0, 40) + ' [' + align + ']');
  }
  for (const b of wordBreaks(c)) out.broken.push(b);
  // the text's own element: the deepest element holding the first text
  let el = c;
  while (el.firstElementChild && el.firstElementChild.textContent.trim() === text) el = el.firstElementChild;
  out.contrast.push([Math.round(contrast(el) * 100) / 100, c.tagName, text.slice(0, 30)]);
}
out.danger = document.querySelectorAll('.jp-OutputArea-output [class*="danger"], .jp-OutputArea-output .progress-bar-danger').length;
out.widgets = document.querySelectorAll('.jp-OutputArea-output .widget-progress, .jp-OutputArea-output .jupyter-widgets').length;
out.pageOverflow = document.documentElement.scrollWidth > window.innerWidth + 1;
return out;
