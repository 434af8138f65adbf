// The trading screen: market data for one symbol, and once signed in, the account's
// portfolio, open orders and an order ticket. This module wires the others together.

import { cancelAll, refreshOrders, refreshPortfolio, signIn, signOut } from "./account.js";
import { $ } from "./dom.js";
import { Feed } from "./feed.js";
import { chart, loadCandles, loadSymbols, onMarket, renderHalt, selectSymbol,
  subscribeMarket } from "./market.js";
import { state } from "./state.js";
import { onOrders, placeOrder } from "./ticket.js";

const REFRESH_MS = 5000;  // the ledger settles after the feed reports: poll it too

function onFeed(msg) {
  if (msg.type === "error") {
    if (msg.code === "unauthorized" && state.token) {
      signOut("Your sign-in token was not accepted. Sign in again.");
    }
    return;
  }
  if (msg.type !== "snapshot" && msg.type !== "update") return;
  if (msg.channel === "orders") onOrders(msg);
  else onMarket(msg);
}

state.feed = new Feed(onFeed, (s) => { $("feed-state").textContent = s; });

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
$("cancel-all").addEventListener("click", cancelAll);
$("order-type").addEventListener("change", () => {
  const market = $("order-type").value === "MARKET";
  $("price").disabled = market;
  if (market) $("price").value = "";
});
setInterval(renderHalt, 1000);  // a halt ends by the clock, with no message
setInterval(() => { refreshOrders(); refreshPortfolio(); }, REFRESH_MS);

(async () => {
  await loadSymbols();
  if (state.token) await signIn(state.token);
})();
