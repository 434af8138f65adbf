// Candlesticks with volume on a <canvas>. Prices stay integer cents (BigInt) until they
// become pixel positions; labels are formatted from cents, never from the pixel maths.

import { formatCents } from "./money.js";

const UP = "#26a69a", DOWN = "#ef5350", GRID = "#263041", TEXT = "#8b98ab";
const SLOT = 11;  // px per candle
const AXIS = 72;  // px for price labels on the right
const TIME_AXIS = 18;

export class CandleChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.candles = new Map();  // start_ms -> {t, o, h, l, c, v}
    this.interval = "1m";
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  reset(interval) {
    this.interval = interval;
    this.candles.clear();
    this.draw();
  }

  // a candle from REST ({cents, amount} prices) or the feed (integer cents)
  upsert(c) {
    const cents = (v) => BigInt(typeof v === "object" ? v.cents : v);
    this.candles.set(c.start_ms, { t: c.start_ms, o: cents(c.open), h: cents(c.high),
      l: cents(c.low), c: cents(c.close), v: c.volume });
  }

  draw() {
    const canvas = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (!w || !h) return;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = "11px ui-monospace, SFMono-Regular, Menlo, monospace";
    const plotW = w - AXIS;
    const all = [...this.candles.values()].sort((a, b) => a.t - b.t);
    const shown = all.slice(-Math.max(1, Math.floor(plotW / SLOT)));
    canvas.dataset.candles = String(shown.length);  // for tests and curious readers
    if (!shown.length) {
      g.fillStyle = TEXT;
      g.textAlign = "center";
      g.fillText(`no trades yet (${this.interval} candles)`, plotW / 2, h / 2);
      return;
    }
    const priceH = Math.floor((h - TIME_AXIS) * 0.75), volTop = priceH + 6;
    const volH = h - TIME_AXIS - volTop;
    let lo = shown[0].l, hi = shown[0].h, vmax = 1;
    for (const c of shown) {
      if (c.l < lo) lo = c.l;
      if (c.h > hi) hi = c.h;
      if (c.v > vmax) vmax = c.v;
    }
    // at least 0.1% of the price a step: a flat market is not drawn as a cliff
    const step = niceStep((hi - lo) / 4n > hi / 1000n ? (hi - lo) / 4n : hi / 1000n);
    lo = (lo / step - 1n) * step;  // whole steps, a step of margin each side
    hi = (hi / step + 2n) * step;
    const span = Number(hi - lo);
    const y = (p) => 6 + (priceH - 12) * (1 - Number(p - lo) / span);

    g.strokeStyle = GRID;
    g.fillStyle = TEXT;
    g.textAlign = "left";
    g.lineWidth = 1;
    for (let p = lo; p <= hi; p += step) {
      const py = Math.round(y(p)) + 0.5;
      g.beginPath(); g.moveTo(0, py); g.lineTo(plotW, py); g.stroke();
      g.fillText(formatCents(p), plotW + 6, py + 4);
    }
    const x0 = plotW - shown.length * SLOT;
    shown.forEach((c, i) => {
      const x = x0 + i * SLOT + SLOT / 2;
      const color = c.c >= c.o ? UP : DOWN;
      g.strokeStyle = g.fillStyle = color;
      g.beginPath(); g.moveTo(Math.round(x) + 0.5, y(c.h)); g.lineTo(Math.round(x) + 0.5, y(c.l)); g.stroke();
      const top = y(c.o > c.c ? c.o : c.c), bottom = y(c.o > c.c ? c.c : c.o);
      g.fillRect(Math.round(x - 4), top - 1, 8, Math.max(2, bottom - top));
      const vh = Math.max(1, volH * c.v / vmax);
      g.globalAlpha = 0.5;
      g.fillRect(Math.round(x - 4), volTop + volH - vh, 8, vh);
      g.globalAlpha = 1;
      if (i % 8 === 0 && x > 24) {
        g.fillStyle = TEXT;
        g.textAlign = "center";
        g.fillText(timeLabel(c.t, this.interval), x, h - 4);
      }
    });
    const last = shown[shown.length - 1].c;  // dashed line at the last price
    g.setLineDash([3, 3]);
    g.strokeStyle = "#e0c050";
    g.beginPath(); g.moveTo(0, Math.round(y(last)) + 0.5); g.lineTo(plotW, Math.round(y(last)) + 0.5); g.stroke();
    g.setLineDash([]);
    g.fillStyle = "#e0c050";
    g.fillRect(plotW + 2, y(last) - 8, AXIS - 4, 16);
    g.fillStyle = "#111";
    g.textAlign = "left";
    g.fillText(formatCents(last), plotW + 6, y(last) + 4);
    g.fillStyle = TEXT;
    g.fillText(`vol ${vmax}`, plotW + 6, volTop + 10);
  }
}

// 1, 2 or 5 times a power of ten cents, at least one cent
function niceStep(raw) {
  let p = 1n;
  for (;;) {
    for (const m of [1n, 2n, 5n]) if (m * p >= raw) return m * p;
    p *= 10n;
  }
}

function timeLabel(ms, interval) {
  const d = new Date(ms);
  const hm = `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  return interval === "1h" && d.getHours() === 0 ? `${d.getMonth() + 1}/${d.getDate()}` : hm;
}
