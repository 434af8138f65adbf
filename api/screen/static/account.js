// Signing in and the account's views: portfolio and open orders (with cancel).

import { call } from "./api.js";
import { $, td } from "./dom.js";
import { loadCandles, loadSymbols, loadTrades } from "./market.js";
import { rejectText } from "./messages.js";
import { formatAmount, sign } from "./money.js";
import { activity, describe } from "./notes.js";
import { state, TOKEN_KEY } from "./state.js";

export async function signIn(token) {
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
  state.feed.setToken(state.token);
  await Promise.all([refreshOrders(), loadSymbols()]);
  if (state.symbol) await Promise.all([loadTrades(), loadCandles()]);
}

export function signOut(why = "") {
  state.token = null;
  state.account = null;
  sessionStorage.removeItem(TOKEN_KEY);
  state.open.clear(); state.sent.clear(); state.closed.clear(); state.mine.clear();
  state.feed.setToken(null);
  document.body.classList.replace("signed-in", "signed-out");
  $("signin").hidden = false;
  $("whoami").hidden = true;
  $("signin-msg").textContent = why;
  $("activity").replaceChildren();
  $("ticket-msg").textContent = "";
}

export async function refreshPortfolio() {
  if (!state.token) return;
  try {
    renderPortfolio(await call("/v1/portfolio", { token: state.token }));
  } catch (e) {
    if (e.status === 401) signOut(rejectText(e.code));
  }
}

export async function refreshOrders() {
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
export function refreshSoon() {
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

export function renderOrders() {
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

export async function cancelAll() {
  const button = $("cancel-all");
  button.disabled = true;
  try {
    await call("/v1/orders", { method: "DELETE", token: state.token });
    activity("Cancel requested for all your open orders.");
  } catch (e) {
    activity(`Cancel all refused: ${rejectText(e.code)}`, true);
  } finally {
    button.disabled = false;
  }
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
