"""Measuring a page against the 适老化 numbers in the browser: every visible text element's
computed font size and contrast, every visible tap target's box.

``measure(page)`` runs MEASURE_JS and returns {"texts": [...], "targets": [...], "qr": ...}; the
checks in ``offenders`` turn them into readable lines (page, selector, text, value).

Numbers (《移动互联网应用（APP）适老化通用设计规范》(MIIT 2021) and WCAG 2.1/2.2, which it cites):
- elder mode: text ≥ 18 px, tap targets ≥ 60×60 px; normal mode: targets ≥ 44×44 px.
- both modes: contrast ≥ 4.5:1, or ≥ 3:1 for large text (≥ 24 px, or ≥ 18.66 px and bold).
Exempt, as the standard (and WCAG 1.4.3 / 2.5.8) exempts them:
- disabled controls (WCAG 1.4.3 "inactive user interface component"; 2.5.8 has no exemption,
  but a disabled control is not a target at all);
- the QR image itself (a graphic, not text; it has its own size check);
- inline links inside a sentence (WCAG 2.5.8 "Inline" exception: the target is in a sentence
  and its size is constrained by the line height of the surrounding text) — only when the link
  shares its line box with other text of the same parent;
- text that is only visually hidden for screen readers (1×1 px clipped) — nobody sees it.
"""

from __future__ import annotations

ELDER_TEXT_PX = 18
ELDER_TARGET_PX = 60
NORMAL_TARGET_PX = 44
CONTRAST = 4.5
CONTRAST_LARGE = 3.0
ELDER_QR_PX = 300
ELDER_CODE_DIGITS_PX = 24

MEASURE_JS = r"""
() => {
  const parse = (c) => {
    const m = c && c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const over = (top, under) => {  // top (with alpha) composited over an opaque colour
    const a = top.a;
    return {r: top.r * a + under.r * (1 - a), g: top.g * a + under.g * (1 - a),
            b: top.b * a + under.b * (1 - a), a: 1};
  };
  const lum = (c) => {
    const ch = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
  };
  const ratio = (a, b) => {
    const la = lum(a), lb = lum(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  };
  // The colours an element's own background paints (its colour, and every colour stop of a
  // gradient image, so the worst stop counts).
  const layers = (el) => {
    const s = getComputedStyle(el);
    const out = [];
    const bg = parse(s.backgroundColor);
    if (bg && bg.a > 0) out.push(bg);
    if (s.backgroundImage && s.backgroundImage !== 'none') {
      const stops = s.backgroundImage.match(/rgba?\([^)]+\)/g) || [];
      stops.forEach((c) => out.push(parse(c)));
    }
    return out;
  };
  // Effective backgrounds behind el: walk up, compose every translucent layer over the next
  // opaque one (the canvas is white). Returns the candidate colours (more than one under a
  // gradient).
  const backgrounds = (el) => {
    const chain = [];
    for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
      const own = layers(n);
      if (own.length) chain.push(own);
      if (own.some((c) => c.a >= 1)) break;
    }
    let base = [{r: 255, g: 255, b: 255, a: 1}];
    for (let i = chain.length - 1; i >= 0; i--) {
      const next = [];
      chain[i].forEach((c) => base.forEach((b) => next.push(c.a >= 1 ? c : over(c, b))));
      base = next;
    }
    return base;
  };
  const visible = (el) => {
    const s = getComputedStyle(el);
    if (s.visibility === 'hidden' || s.display === 'none' || parseFloat(s.opacity) === 0) return false;
    for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
      const ns = getComputedStyle(n);
      if (parseFloat(ns.opacity) === 0 || ns.display === 'none') return false;
    }
    const r = el.getBoundingClientRect();
    if (r.width < 2 || r.height < 2) return false;           // 1×1 screen-reader text
    if (r.right <= 0 || r.bottom + window.scrollY <= 0) return false;   // parked off screen
    if (r.left >= document.documentElement.scrollWidth) return false;
    return true;
  };
  const path = (el) => {
    const bits = [];
    for (let n = el; n && n.nodeType === 1 && bits.length < 3; n = n.parentElement) {
      let b = n.tagName.toLowerCase();
      if (n.id) { bits.unshift(b + '#' + n.id); break; }
      const cls = [...n.classList].slice(0, 2).join('.');
      if (cls) b += '.' + cls;
      bits.unshift(b);
    }
    return bits.join(' > ');
  };
  const ownText = (el) => [...el.childNodes]
    .filter((n) => n.nodeType === 3).map((n) => n.textContent).join('').replace(/\s+/g, ' ').trim();

  const texts = [];
  const seen = new Set();
  document.querySelectorAll('body *').forEach((el) => {
    const tag = el.tagName.toLowerCase();
    if (['script', 'style', 'noscript', 'template', 'option'].includes(tag)) return;
    let text = ownText(el);
    const field = ['input', 'select', 'textarea'].includes(tag);
    if (field) {
      const type = (el.type || '').toLowerCase();
      if (['hidden', 'checkbox', 'radio', 'file', 'range', 'color'].includes(type)) return;
      text = tag === 'select' ? (el.selectedOptions[0] || {}).textContent || '' : (el.value || '');
      text = text.trim();
      if (!text && tag !== 'select') return;  // empty field: its placeholder is a hint
    }
    if (!text || !visible(el)) return;
    if (parseFloat(getComputedStyle(el).fontSize) < 1) return;  // font-size 0: screen-reader text
    if (el.closest('[data-qr], .code-qr')) return;  // the QR graphic itself
    const s = getComputedStyle(el);
    const svgText = el instanceof SVGElement;
    const fg = parse(svgText ? s.fill : s.color);
    if (!fg) return;
    const disabled = el.closest(':disabled, [aria-disabled="true"], .weui-btn_disabled') !== null;
    const bgs = backgrounds(svgText ? el.closest('svg') || el : el);
    const opacity = (() => { let o = 1; for (let n = el; n && n.nodeType === 1; n = n.parentElement) o *= parseFloat(getComputedStyle(n).opacity); return o; })();
    const worst = Math.min(...bgs.map((bg) => ratio(over({...fg, a: fg.a * opacity}, bg), bg)));
    const size = parseFloat(s.fontSize);
    const weight = parseInt(s.fontWeight, 10) || 400;
    const key = path(el) + '|' + text;
    if (seen.has(key)) return;
    seen.add(key);
    texts.push({sel: path(el), text: text.slice(0, 24), size, weight,
                contrast: Math.round(worst * 100) / 100, disabled});
  });

  const targets = [];
  const tseen = new Set();
  const candidates = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], [onclick], label');
  candidates.forEach((el) => {
    const tag = el.tagName.toLowerCase();
    let box = el;
    if (tag === 'label') {
      const control = el.control;
      if (!control || !['checkbox', 'radio'].includes((control.type || '').toLowerCase())) return;
    }
    if (tag === 'input' && ['checkbox', 'radio', 'file'].includes((el.type || '').toLowerCase())) {
      // the label is the target of a checkbox (and of a styled file input)
      if (el.labels && el.labels.length) return;
    }
    if (el.closest(':disabled, [aria-disabled="true"], .weui-btn_disabled')) return;
    if (!visible(box)) {
      // a visually hidden file input whose label is the visible target is measured as the label
      return;
    }
    if (el.parentElement && el.parentElement.closest('a[href], button, label, [role=button]')) return; // nested
    const r = box.getBoundingClientRect();
    let inline = false;
    if (tag === 'a' && getComputedStyle(el).display === 'inline') {
      const parent = el.parentElement;
      const siblingText = [...parent.childNodes].some((n) => n !== el && n.nodeType === 3 && n.textContent.trim());
      inline = siblingText;
    }
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || '').replace(/\s+/g, ' ').trim();
    const key = path(el) + '|' + text + '|' + Math.round(r.top + window.scrollY);
    if (tseen.has(key)) return;
    tseen.add(key);
    targets.push({sel: path(el), text: text.slice(0, 24), w: Math.round(r.width * 10) / 10,
                  h: Math.round(r.height * 10) / 10, inline});
  });

  const qrEl = document.querySelector('[data-qr] svg, [data-qr] img, .code-qr svg');
  const digits = document.querySelector('[data-display]');
  return {
    texts, targets,
    qr: qrEl ? Math.round(Math.min(qrEl.getBoundingClientRect().width, qrEl.getBoundingClientRect().height)) : null,
    digits: digits ? parseFloat(getComputedStyle(digits).fontSize) : null,
    scrollWidth: document.scrollingElement.scrollWidth, innerWidth: window.innerWidth,
  };
}
"""


def measure(page) -> dict:
    """The page's texts, targets and code sizes, measured by the browser."""
    return page.evaluate(MEASURE_JS)


def large(text: dict) -> bool:
    """WCAG large text: ≥ 24 px, or ≥ 18.66 px (14 pt) bold."""
    return text["size"] >= 24 or (text["size"] >= 18.66 and text["weight"] >= 700)


def offenders(label: str, found: dict, elder: bool) -> list[str]:
    """One readable line per measurement below the standard."""
    lines = []
    for t in found["texts"]:
        if t["disabled"]:
            continue
        if elder and t["size"] < ELDER_TEXT_PX:
            lines.append(f"{label}: font {t['size']}px < {ELDER_TEXT_PX}: {t['sel']} «{t['text']}»")
        need = CONTRAST_LARGE if large(t) else CONTRAST
        if t["contrast"] < need:
            lines.append(f"{label}: contrast {t['contrast']} < {need}: {t['sel']} «{t['text']}»"
                         f" ({t['size']}px/{t['weight']})")
    least = ELDER_TARGET_PX if elder else NORMAL_TARGET_PX
    for t in found["targets"]:
        if t["inline"]:
            continue
        if t["w"] < least - 0.5 or t["h"] < least - 0.5:
            lines.append(f"{label}: target {t['w']}×{t['h']} < {least}: {t['sel']} «{t['text']}»")
    if elder and found["qr"] is not None and found["qr"] < ELDER_QR_PX:
        lines.append(f"{label}: QR {found['qr']}px < {ELDER_QR_PX}")
    if elder and found["digits"] is not None and found["digits"] < ELDER_CODE_DIGITS_PX:
        lines.append(f"{label}: code characters {found['digits']}px < {ELDER_CODE_DIGITS_PX}")
    return lines
