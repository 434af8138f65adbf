// Small DOM helpers shared by the screen's modules.

export const $ = (id) => document.getElementById(id);

export function td(text) {
  const cell = document.createElement("td");
  cell.textContent = text;
  return cell;
}

export function say(el, text, bad = false) {
  el.textContent = text;
  el.className = `msg ${bad ? "error" : "ok"}`;
}
