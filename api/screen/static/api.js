// REST calls to the API; errors come back as ApiError with the API's stable code.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function call(path, { method = "GET", token = null, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers: h,
      body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, "NETWORK", String(e));
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    // {"error": {"code", "message"}}; the market endpoints say {"error": code, "message"}
    const err = data && data.error;
    const code = err && typeof err === "object" ? err.code
      : (typeof err === "string" ? err.toUpperCase() : `HTTP_${response.status}`);
    const message = (err && err.message) || (data && data.message) || response.statusText;
    throw new ApiError(response.status, code, message);
  }
  return data;
}

// 32 hex digits, like the API's own ids; made here so the page knows an order's id
// before the feed can report on it
export function newOrderId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
