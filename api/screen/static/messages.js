// The API's stable codes (HTTP errors, core reject reasons, cancel reasons) in plain words.

const REJECTS = {
  MALFORMED: "The order could not be read: a field is missing or has the wrong type.",
  UNKNOWN_ACCOUNT: "Your account is not known to the exchange.",
  UNKNOWN_SYMBOL: "There is no such symbol on this exchange.",
  BAD_QUANTITY: "The quantity is not allowed: it must be a whole number of shares, at least one lot, and no more than the symbol's largest order.",
  BAD_PRICE: "The price is not allowed: a limit order needs a price above zero, a market order takes none.",
  OFF_TICK: "The price is not on the symbol's price grid: it must be a multiple of the tick size{tick}.",
  DUPLICATE_ORDER_ID: "An order with this id already exists.",
  INSUFFICIENT_FUNDS: "Not enough cash: the order would need more money than your account has available.",
  INSUFFICIENT_SHARES: "Not enough shares: you cannot sell more than you hold, less what your open sell orders already set aside.",
  POSITION_LIMIT: "Position limit reached: no account may hold, counting its open buy orders, more than 5% of a company's shares.",
  UNKNOWN_ORDER: "That order is no longer on the book (already filled or cancelled).",
  NOT_OWNER: "That order belongs to another account.",
  NOT_HOME_PARTITION: "The exchange refused this order: it reached a matcher that does not keep its symbol's book. Nothing was reserved for it.",
  POST_ONLY_NEEDS_GTC_LIMIT: "Post only is for a good-till-cancelled limit order.",
  POST_ONLY_WOULD_CROSS: "Post only: the order would have traded at once at its price, so it was rejected instead; nothing traded.",
  HALTED: "Trading in this symbol is halted by the circuit breaker; try again when it resumes.",
};

const CANCELS = {
  USER: "Cancelled as you asked.",
  IOC_REMAINDER: "The part of this immediate-or-cancel order that could not trade at once was cancelled.",
  FOK_UNFILLABLE: "This fill-or-kill order could not be filled completely, so nothing traded and it was cancelled.",
  NO_LIQUIDITY: "The market order ran out of orders on the other side; the rest was cancelled.",
  PRICE_COLLAR: "The market order reached its protection price (10% from the last trade); the rest was cancelled.",
  SELF_TRADE: "Cancelled because it would have traded with another order of your own.",
  HALTED: "The circuit breaker halted trading in this symbol; the rest of the order was cancelled.",
};

const HTTP = {
  UNAUTHENTICATED: "Your sign-in token was not accepted. Sign in again.",
  ACCOUNT_TOKEN_REQUIRED: "This is an admin token; sign in with an account's token to trade.",
  IDEMPOTENCY_KEY_REUSED: "This order was already sent with different details.",
  ORDER_NOT_OPEN: "That order is no longer open: it was filled, cancelled or rejected.",
  NOT_FOUND: "That order was not found (it may not have reached the exchange yet).",
  BAD_REQUEST: "The request was not valid.",
  UNAVAILABLE: "The exchange cannot take orders right now; try again in a moment.",
  INTERNAL: "Something went wrong on the exchange's side; try again.",
  NETWORK: "The exchange could not be reached; check the connection and try again.",
};

export function rejectText(code, { tick } = {}) {
  const text = REJECTS[code] || HTTP[code];
  if (!text) return `Refused (${code}).`;
  return text.replace("{tick}", tick ? ` (${tick})` : "");
}

export function cancelText(reason) {
  return CANCELS[reason] || (reason ? `Cancelled (${reason}).` : "Cancelled.");
}
