// Market data for one symbol: REST first, then kept live by the feed's public channels.

import { call } from "./api.js";
import { CandleChart } from "./chart.js";
import { $, td } from "./dom.js";
import { formatCents, toCents } from "./money.js";
import { state } from "./state.js";

const BOOK_LEVELS = 12, TAPE_ROWS = 60, CANDLES_BACK = 150;
const INTERVAL_MS = { "1m": 60_000, "5m": 300_000, "1h": 3_600_000 };

export const chart = new CandleChart($("chart"));

export async function loadSymbols() {
  const data = state.token
    ? await call("/v1/symbols", { token: state.token }).catch(() => call("/screen/symbols"))
    : await call("/screen/symbols");
  state.symbols = new Map(data.items.map((s) => [s.symbol, s]));
  const select = $("symbol");
  const wanted = state.symbol || new URLSearchParams(location.search).get("symbol")
    || (data.items[0] && data.items[0].symbol);
  select.replaceChildren(...data.items.map((s) => new Option(s.symbol, s.symbol)));
  if (wanted && state.symbols.has(wanted)) {
    select.value = wanted;
    if (wanted !== state.symbol) await selectSymbol(wanted);
  }
}

export async function selectSymbol(symbol) {
  state.symbol = symbol;
  state.book = { BUY: new Map(), SELL: new Map() };
  state.trades = new Map();
  state.haltUntil = 0;
  state.halt = null;
  const info = state.symbols.get(symbol);
  $("symbol-name").textContent = info && info.name ? info.name : "";
  document.title = `${symbol} — matchstream`;
  chart.reset(state.interval);
  renderBook(); renderTape(); renderTicker({}); renderHalt();
  subscribeMarket();
  await Promise.all([loadQuote(), loadBook(), loadTrades(), loadCandles()]);
}

export function subscribeMarket() {
  const s = state.symbol;
  state.feed.setChannels([`ticker:${s}`, `book:${s}`, `trades:${s}`, `halts:${s}`,
    `candles:${s}:${state.interval}`]);
}

async function loadQuote() {
  const s = state.symbol;
  const q = await call(`/v1/symbols/${encodeURIComponent(s)}/quote`).catch(() => null);
  if (q && s === state.symbol) { renderTicker(q); noteHalt(q.halted, q.halted_until); }
}

async function loadBook() {
  const s = state.symbol;
  const b = await call(`/v1/symbols/${encodeURIComponent(s)}/book?depth=50`).catch(() => null);
  if (b && s === state.symbol) setBook(b);
}

export async function loadTrades() {
  if (!state.token) return;  // public visitors get the feed's recent trades
  const s = state.symbol;
  const data = await call(`/v1/symbols/${encodeURIComponent(s)}/trades?limit=${TAPE_ROWS}`,
    { token: state.token }).catch(() => null);
  if (!data || s !== state.symbol) return;
  for (const t of data.items) addTrade({ seq: t.seq, price: t.price, quantity: t.quantity,
    aggressor: t.aggressor, ts: t.executed_ms });
  renderTape();
}

export async function loadCandles() {
  if (!state.token) return;  // closed candles need a token; the live one comes by feed
  const s = state.symbol, interval = state.interval;
  const from = Math.max(0, Date.now() - CANDLES_BACK * INTERVAL_MS[interval]);
  const data = await call(`/v1/symbols/${encodeURIComponent(s)}/candles?interval=${interval}`
    + `&from=${from}&limit=500`, { token: state.token }).catch(() => null);
  if (!data || s !== state.symbol || interval !== state.interval) return;
  for (const c of data.items) if (!chart.candles.has(c.start_ms)) chart.upsert(c);
  chart.draw();
}

function setBook(b) {
  state.book = { BUY: new Map(b.bids.map(([p, q, n]) => [p, [q, n]])),
    SELL: new Map(b.asks.map(([p, q, n]) => [p, [q, n]])) };
  renderBook();
}

function addTrade(t) {
  state.trades.set(t.seq, { ...t, price: toCents(t.price) });
}

// a snapshot or update of a public channel
export function onMarket(msg) {
  const [kind, symbol, interval] = msg.channel.split(":");
  if (symbol !== state.symbol) return;  // a late message of the symbol we left
  const d = msg.data;
  if (kind === "ticker") {
    renderTicker(d);
    noteHalt(d.halted, d.halted_until);
  } else if (kind === "book") {
    if (msg.type === "snapshot") return setBook(d);
    const side = state.book[d.side === "BUY" || d.side === "BID" ? "BUY" : "SELL"];
    if (d.quantity > 0) side.set(d.price, [d.quantity, d.count]); else side.delete(d.price);
    renderBook();
  } else if (kind === "trades") {
    for (const t of msg.type === "snapshot" ? d : [d]) addTrade(t);
    renderTape();
  } else if (kind === "candles") {
    if (d && interval === state.interval) { chart.upsert(d); chart.draw(); }
  } else if (kind === "halts") {
    if (d.halted !== undefined && (d.until_ts !== undefined || d.halted_until !== undefined)) {
      if (d.halted) state.halt = d;
      noteHalt(d.halted, d.until_ts || d.halted_until);
    }
  }
}

// a symbol is halted until the latest end any source reported; the end passes by itself
function noteHalt(halted, until) {
  if (halted && until && until > state.haltUntil) state.haltUntil = until;
  renderHalt();
}

// ---------------------------------------------------------------- rendering: market

function renderTicker(q) {
  $("last").textContent = formatCents(q.last ?? null);
  $("bid").textContent = formatCents(q.bid ?? null);
  $("ask").textContent = formatCents(q.ask ?? null);
  $("bid-size").textContent = q.bid != null ? `× ${q.bid_size}` : "";
  $("ask-size").textContent = q.ask != null ? `× ${q.ask_size}` : "";
}

export function renderHalt() {
  const halted = state.haltUntil > Date.now();
  document.body.classList.toggle("halted", halted);
  $("halt-badge").hidden = !halted;
  const banner = $("halt-banner");
  banner.hidden = !halted;
  if (!halted) return;
  const h = state.halt;
  const why = h && h.reference_price && h.attempted_price
    ? ` — circuit breaker: a trade at ${formatCents(h.attempted_price)} was more than 10% from ${formatCents(h.reference_price)}`
    : " — circuit breaker";
  banner.textContent = `TRADING HALTED IN ${state.symbol}${why}. Resumes after ${new Date(state.haltUntil).toLocaleTimeString()}; orders are rejected until then.`;
}

function renderBook() {
  const asks = [...state.book.SELL].sort((a, b) => a[0] - b[0]).slice(0, BOOK_LEVELS).reverse();
  const bids = [...state.book.BUY].sort((a, b) => b[0] - a[0]).slice(0, BOOK_LEVELS);
  const biggest = Math.max(1, ...asks.map((l) => l[1][0]), ...bids.map((l) => l[1][0]));
  const rows = (levels, color) => levels.map(([price, [qty, count]]) => {
    const tr = document.createElement("tr");
    tr.dataset.price = String(price);
    // depth bar: display only
    tr.style.backgroundImage = `linear-gradient(${color}, ${color})`;
    tr.style.backgroundSize = `${Math.round(100 * qty / biggest)}% 100%`;
    tr.append(td(formatCents(price)), td(String(qty)), td(String(count)));
    return tr;
  });
  $("asks").replaceChildren(...rows(asks, "rgba(239,83,80,.18)"));
  $("bids").replaceChildren(...rows(bids, "rgba(38,166,154,.18)"));
  const bestAsk = asks.length ? asks[asks.length - 1][0] : null;
  const bestBid = bids.length ? bids[0][0] : null;
  $("spread").textContent = bestAsk !== null && bestBid !== null
    ? `spread ${formatCents(BigInt(bestAsk) - BigInt(bestBid))}`
    : (bestAsk === null && bestBid === null ? "empty book" : "one-sided book");
}

function renderTape() {
  const trades = [...state.trades.values()].sort((a, b) => b.seq - a.seq).slice(0, TAPE_ROWS);
  $("tape").replaceChildren(...trades.map((t) => {
    const tr = document.createElement("tr");
    tr.dataset.seq = String(t.seq);
    const price = td(formatCents(t.price));
    price.className = t.aggressor === "BUY" ? "buy-text" : "sell-text";
    tr.append(td(t.ts ? new Date(t.ts).toLocaleTimeString() : ""), price, td(String(t.quantity)));
    return tr;
  }));
}
