// What the screen knows, shared by its modules.

export const TOKEN_KEY = "matchstream.token";

export const state = {
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
  feed: null,              // the /v1/ws client (feed.js)
};
