// The trading screen: market data for one symbol (REST first, then /v1/ws), and once
// signed in, the account's portfolio, open orders and an order ticket.

import { call, newOrderId } from "./api.js";
import { CandleChart } from "./chart.js";
import { Feed } from "./feed.js";
import { cancelText, rejectText } from "./messages.js";
import { centsForJson, formatAmount, formatCents, parsePrice, parseQuantity, sign,
  toCents } from "./money.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "matchstream.token";
const CLOSED = new Set(["FILLED", "CANCELLED", "REJECTED"]);
const BOOK_LEVELS = 12, TAPE_ROWS = 60, CANDLES_BACK = 150;
const INTERVAL_MS = { "1m": 60_000, "5m": 300_000, "1h": 3_600_000 };
const REFRESH_MS = 5000;  // the ledger settles after the feed reports: poll it too

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  account: null,
  symbols: new Map(),      // symbol -> {symbol, name, tick_size}
  symbol: null,
  interval: "1m",
  book: { BUY: new Map(), SELL: new Map() },  // price cents (Number) -> [qty, count]
  trades: new Map(),       // seq -> {seq, price (BigInt), quantity, aggressor, ts}
  haltUntil: 0,
  halt: null,              // the last halt record (reference and attempted prices)
  open: new Map(),         // order_id -> order view (REST shape)
  sent: new Map(),         // order_id -> what this page sent, until the gate answers
  closed: new Set(),       // ids the feed reported closed (the ledger may lag behind)
  mine: new Set(),         // ids placed from this page: their outcome goes in the ticket
};

const chart = new CandleChart($("chart"));
const feed = new Feed(onFeed, (s) => { $("feed-state").textContent = s; });

// ---------------------------------------------------------------- market data

async function loadSymbols() {
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

async function selectSymbol(symbol) {
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

function subscribeMarket() {
  const s = state.symbol;
  feed.setChannels([`ticker:${s}`, `book:${s}`, `trades:${s}`, `halts:${s}`,
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

async function loadTrades() {
  if (!state.token) return;  // public visitors get the feed's recent trades
  const s = state.symbol;
  const data = await call(`/v1/symbols/${encodeURIComponent(s)}/trades?limit=${TAPE_ROWS}`,
    { token: state.token }).catch(() => null);
  if (!data || s !== state.symbol) return;
  for (const t of data.items) addTrade({ seq: t.seq, price: t.price, quantity: t.quantity,
    aggressor: t.aggressor, ts: t.executed_ms });
  renderTape();
}

async function loadCandles() {
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

function onFeed(msg) {
  if (msg.type === "authenticated") return;
  if (msg.type === "error") {
    if (msg.code === "unauthorized" && state.token) signOut("Your sign-in token was not accepted. Sign in again.");
    return;
  }
  if (msg.type !== "snapshot" && msg.type !== "update") return;
  if (msg.channel === "orders") return onOrders(msg);
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

function renderHalt() {
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

function td(text) {
  const cell = document.createElement("td");
  cell.textContent = text;
  return cell;
}

// ---------------------------------------------------------------- account

async function signIn(token) {
  $("signin-msg").textContent = "";
  try {
    const folio = await call("/v1/portfolio", { token });
    state.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
    state.account = folio.account_id;
    renderPortfolio(folio);
  } catch (e) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $("signin-msg").textContent = rejectText(e.code);
    return;
  }
  $("account").textContent = state.account;
  $("token").value = "";
  document.body.classList.replace("signed-out", "signed-in");
  $("signin").hidden = true;
  $("whoami").hidden = false;
  feed.setToken(state.token);
  await Promise.all([refreshOrders(), loadSymbols()]);
  if (state.symbol) await Promise.all([loadTrades(), loadCandles()]);
}

function signOut(why = "") {
  state.token = null;
  state.account = null;
  sessionStorage.removeItem(TOKEN_KEY);
  state.open.clear(); state.sent.clear(); state.closed.clear(); state.mine.clear();
  feed.setToken(null);
  document.body.classList.replace("signed-in", "signed-out");
  $("signin").hidden = false;
  $("whoami").hidden = true;
  $("signin-msg").textContent = why;
  $("activity").replaceChildren();
  $("ticket-msg").textContent = "";
}

async function refreshPortfolio() {
  if (!state.token) return;
  try {
    renderPortfolio(await call("/v1/portfolio", { token: state.token }));
  } catch (e) {
    if (e.status === 401) signOut(rejectText(e.code));
  }
}

async function refreshOrders() {
  if (!state.token) return;
  let data;
  try {
    data = await call("/v1/orders?status=OPEN&limit=200", { token: state.token });
  } catch (e) {
    if (e.status === 401) signOut(rejectText(e.code));
    return;
  }
  state.open = new Map(data.items.filter((o) => !state.closed.has(o.order_id))
    .map((o) => [o.order_id, o]));
  for (const id of state.open.keys()) state.sent.delete(id);
  renderOrders();
}

let refreshTimers = [];
// the feed reports an order's fate before the ledger has settled it: look twice
function refreshSoon() {
  refreshTimers.forEach(clearTimeout);
  refreshTimers = [300, 2000].map((ms) => setTimeout(() => { refreshOrders(); refreshPortfolio(); }, ms));
}

function renderPortfolio(p) {
  const money = (id, m, colour = false) => {
    const el = $(id);
    el.textContent = formatAmount(m);
    if (colour) el.className = ["neg", "", "pos"][sign(m) + 1];
  };
  money("cash", p.cash); money("reserved-cash", p.reserved_cash);
  money("market-value", p.market_value); money("pnl", p.unrealised_pnl, true);
  money("equity", p.equity);
  $("holdings").replaceChildren(...p.holdings.map((h) => {
    const tr = document.createElement("tr");
    tr.dataset.symbol = h.symbol;
    const pnl = td(formatAmount(h.unrealised_pnl));
    pnl.className = ["neg", "", "pos"][sign(h.unrealised_pnl) + 1];
    tr.append(td(h.symbol), td(String(h.quantity)), td(String(h.reserved_quantity)),
      td(formatAmount(h.average_cost)), td(formatAmount(h.last_price)),
      td(formatAmount(h.market_value)), pnl);
    return tr;
  }));
}

function renderOrders() {
  const rows = [];
  for (const [id, o] of state.sent) rows.push(orderRow(id, o, "SENT", false));
  const open = [...state.open.values()].sort((a, b) => b.created_ms - a.created_ms);
  for (const o of open) rows.push(orderRow(o.order_id, o, o.status, true));
  $("open-orders").replaceChildren(...rows);
  $("no-orders").hidden = rows.length > 0;
}

function orderRow(id, o, status, cancellable) {
  const tr = document.createElement("tr");
  tr.dataset.orderId = id;
  const side = td(o.side);
  side.className = o.side === "BUY" ? "buy-text" : "sell-text";
  const price = o.order_type === "MARKET" ? "market" : formatAmount(o.price);
  tr.append(td(o.symbol), side, td(String(o.quantity)), td(price),
    td(String(o.filled_quantity || 0)), td(status.replace("_", " ").toLowerCase()));
  const cell = td("");
  if (cancellable) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "cancel";
    b.textContent = "Cancel";
    b.addEventListener("click", () => cancelOrder(id, b));
    cell.append(b);
  }
  tr.append(cell);
  return tr;
}

async function cancelOrder(id, button) {
  button.disabled = true;
  button.textContent = "…";
  try {
    await call(`/v1/orders/${encodeURIComponent(id)}`, { method: "DELETE", token: state.token });
    activity(`Cancel requested for ${describe(id)}.`);
  } catch (e) {
    activity(`Cancel refused for ${describe(id)}: ${rejectText(e.code)}`, true);
    button.disabled = false;
    button.textContent = "Cancel";
  }
}

// ---------------------------------------------------------------- order ticket

function ticketValues() {
  const form = $("ticket");
  const side = form.querySelector("input[name=side]:checked").value;
  const orderType = $("order-type").value;
  const quantity = parseQuantity($("quantity").value);
  if (!quantity) return { error: "Enter the quantity as a whole number of shares, at least 1." };
  const body = { symbol: state.symbol, side, quantity, order_type: orderType, tif: $("tif").value };
  if (orderType === "LIMIT") {
    const price = parsePrice($("price").value);
    if (price === null || price <= 0n) {
      return { error: "Enter a limit price in dollars and cents, like 100.25." };
    }
    body.price = centsForJson(price);
  }
  return { body };
}

async function placeOrder(event) {
  event.preventDefault();
  const msg = $("ticket-msg");
  const { body, error } = ticketValues();
  if (error) return say(msg, error, true);
  if (!state.symbol) return say(msg, "Choose a symbol first.", true);
  $("place").disabled = true;
  const id = body.order_id = newOrderId();
  const price = body.price !== undefined ? { cents: body.price, amount: formatCents(body.price) } : null;
  state.sent.set(id, { ...body, price, filled_quantity: 0 });
  state.mine.add(id);
  say(msg, `Sending: ${describe(id)}…`);
  renderOrders();
  try {
    await call("/v1/orders", { method: "POST", token: state.token, body });
    if (state.sent.has(id)) say(msg, `Sent: ${describe(id)}. Waiting for the exchange…`);
  } catch (e) {
    state.sent.delete(id);
    renderOrders();
    const tick = state.symbols.get(state.symbol)?.tick_size;
    const why = rejectText(e.code, { tick: tick && formatAmount(tick) });
    say(msg, `Rejected: ${why}`, true);
    activity(`Rejected: ${why}`, true);
  } finally {
    $("place").disabled = false;
  }
}

function say(el, text, bad = false) {
  el.textContent = text;
  el.className = `msg ${bad ? "error" : "ok"}`;
}

function describe(id) {
  const o = state.sent.get(id) || state.open.get(id);
  if (!o) return `order ${id.slice(0, 8)}`;
  const price = o.order_type === "MARKET" ? "at market" : `at ${formatAmount(o.price)}`;
  return `${o.side.toLowerCase()} ${o.quantity} ${o.symbol} ${price}`;
}

function activity(text, bad = false) {
  const li = document.createElement("li");
  li.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  if (bad) li.className = "bad";
  const list = $("activity");
  list.prepend(li);
  while (list.children.length > 40) list.lastChild.remove();
}

// the private channel: the fate of every order, including rejections by the gate
function onOrders(msg) {
  const events = msg.type === "snapshot" ? (msg.data || []) : [msg.data];
  for (const ev of events) onOrderEvent(ev, msg.type === "update");
  renderOrders();
  refreshSoon();
}

function onOrderEvent(ev, live) {
  const id = ev.order_id;
  const what = describe(id);
  const fromTicket = state.mine.has(id);
  let text = null, bad = false;
  if (ev.status === "CANCEL_REJECTED") {
    text = `Cancel refused for ${what}: ${rejectText(ev.reason)}`; bad = true;
  } else if (CLOSED.has(ev.status)) {
    state.closed.add(id);
    if (ev.status === "FILLED") text = `Filled: ${what}.`;
    else if (ev.status === "CANCELLED") {
      text = `${ev.reason === "USER" ? "Cancelled" : "Cancelled by the exchange"}: ${what}. ${cancelText(ev.reason)}`;
      bad = ev.reason !== "USER";
    } else { text = `Rejected: ${what}. ${rejectText(ev.reason)}`; bad = true; }
    if (live && fromTicket) say($("ticket-msg"), text, bad);
    state.sent.delete(id);
    state.open.delete(id);
  } else {
    const o = state.open.get(id) || state.sent.get(id);
    if (o) {
      state.open.set(id, { ...o, order_id: id, status: ev.status, filled_quantity: ev.filled_quantity,
        created_ms: o.created_ms || ev.ts });
    }
    state.sent.delete(id);
    text = ev.status === "ACCEPTED" ? `Accepted: ${what}.`
      : `Partly filled: ${what}, ${ev.filled_quantity} done, ${ev.remaining_quantity} left.`;
    if (live && fromTicket) say($("ticket-msg"), text);
  }
  if (live && text) activity(text, bad);
}

// ---------------------------------------------------------------- wiring

$("symbol").addEventListener("change", (e) => selectSymbol(e.target.value));
$("intervals").addEventListener("click", (e) => {
  const interval = e.target.dataset && e.target.dataset.interval;
  if (!interval || interval === state.interval) return;
  state.interval = interval;
  for (const b of $("intervals").children) b.classList.toggle("active", b === e.target);
  chart.reset(interval);
  subscribeMarket();
  loadCandles();
});
$("signin").addEventListener("submit", (e) => {
  e.preventDefault();
  const token = $("token").value.trim();
  if (token) signIn(token);
});
$("signout").addEventListener("click", () => signOut());
$("ticket").addEventListener("submit", placeOrder);
$("order-type").addEventListener("change", () => {
  const market = $("order-type").value === "MARKET";
  $("price").disabled = market;
  if (market) $("price").value = "";
});
setInterval(renderHalt, 1000);  // a halt ends by the clock, with no message
setInterval(() => { refreshOrders(); refreshPortfolio(); }, REFRESH_MS);

document.body.classList.add("signed-out");
(async () => {
  await loadSymbols();
  if (state.token) await signIn(state.token);
})();
