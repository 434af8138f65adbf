// The order ticket, and the private "orders" channel that tells each order's fate
// (including the gate's rejections, which come after the API's 202).

import { renderOrders, refreshSoon } from "./account.js";
import { call, newOrderId } from "./api.js";
import { $, say } from "./dom.js";
import { cancelText, rejectText } from "./messages.js";
import { centsForJson, formatAmount, formatCents, parsePrice, parseQuantity } from "./money.js";
import { activity, describe } from "./notes.js";
import { state } from "./state.js";

const CLOSED = new Set(["FILLED", "CANCELLED", "REJECTED"]);

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
  if ($("post-only").checked) {
    if (orderType !== "LIMIT" || body.tif !== "GTC") {
      return { error: "Post only is for a good-till-cancelled limit order." };
    }
    body.post_only = true;
  }
  return { body };
}

export async function placeOrder(event) {
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

// the private channel: the fate of every order, including rejections by the gate
export function onOrders(msg) {
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
