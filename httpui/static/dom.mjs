// Small DOM helpers. Process data is untrusted (any user names their
// processes): it is only ever set with textContent, never parsed as HTML.

export const $ = (id) => document.getElementById(id);

export function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

export function button(label, title, cls) {
  const b = el("button", label, cls);
  b.type = "button";
  if (title) b.title = title;
  return b;
}

// say writes the page's status line.
export function say(text, kind) {
  const m = $("msg");
  m.textContent = text || "";
  m.className = "msg" + (kind ? " " + kind : "");
}
