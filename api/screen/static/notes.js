// How the screen names an order and logs what happened to it.

import { $ } from "./dom.js";
import { formatAmount } from "./money.js";
import { state } from "./state.js";

export function describe(id) {
  const o = state.sent.get(id) || state.open.get(id);
  if (!o) return `order ${id.slice(0, 8)}`;
  const price = o.order_type === "MARKET" ? "at market" : `at ${formatAmount(o.price)}`;
  return `${o.side.toLowerCase()} ${o.quantity} ${o.symbol} ${price}`;
}

export function activity(text, bad = false) {
  const li = document.createElement("li");
  li.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  if (bad) li.className = "bad";
  const list = $("activity");
  list.prepend(li);
  while (list.children.length > 40) list.lastChild.remove();
}
