// The /v1/ws client: keeps a set of channels subscribed across reconnects, authenticates
// with the token by message (not in the URL, which ends up in logs) and subscribes the
// private "orders" channel once the server says who we are.

export class Feed {
  constructor(onMessage, onState) {
    this.onMessage = onMessage;
    this.onState = onState;
    this.channels = new Set();
    this.token = null;
    this.account = null;
    this.ws = null;
    this.retry = 500;
    this.connect();
  }

  url() {
    return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/v1/ws`;
  }

  connect() {
    const ws = this.ws = new WebSocket(this.url());
    ws.onopen = () => {
      this.retry = 500;
      this.onState("live");
      if (this.token) this.send({ action: "auth", token: this.token });
      if (this.channels.size) this.send({ action: "subscribe", channels: [...this.channels] });
    };
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.type === "authenticated") {
        this.account = msg.account;
        this.send({ action: "subscribe", channels: ["orders"] });
      }
      this.onMessage(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.account = null;
      this.onState("reconnecting");
      setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 10000);
    };
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  // replace the public channels: unsubscribe what is gone, subscribe what is new
  setChannels(list) {
    const next = new Set(list);
    const gone = [...this.channels].filter((c) => !next.has(c));
    const added = list.filter((c) => !this.channels.has(c));
    this.channels = next;
    if (gone.length) this.send({ action: "unsubscribe", channels: gone });
    if (added.length) this.send({ action: "subscribe", channels: added });
  }

  setToken(token) {
    const old = this.token;
    this.token = token;
    if (token) this.send({ action: "auth", token });
    else if (old) {  // signing out: a fresh connection carries no account
      this.account = null;
      const ws = this.ws;
      this.ws = null;
      ws.close();
      this.connect();
    }
  }
}
