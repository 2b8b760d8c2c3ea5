// HTML building for the dashboard. Every value reaches the page through `esc` (text and
// attribute values alike) or `url` (path segments and query values), so a payload, an error
// message or a queue name can never become markup, a script or a link target.

/** A piece of markup that is already safe; everything else passed to `html` is escaped. */
export class Safe {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };

/** Escapes text for an element body or a quoted attribute value. */
export function esc(value: unknown): string {
  return String(value ?? "").replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

type Part = Safe | string | number | boolean | null | undefined | Part[];

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return "";
  if (part instanceof Safe) return part.value;
  if (Array.isArray(part)) return part.map(render).join("");
  return esc(part);
}

/** Tagged template: literal text is markup, every interpolated value is escaped unless Safe. */
export function html(strings: TemplateStringsArray, ...values: Part[]): Safe {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new Safe(out);
}

/** A query string from the non-empty values (each encoded). */
export function query(params: Record<string, string | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** Formats a count; `estimated` adds a tilde (the page's legend says what it means). */
export function count(n: number, estimated = false): string {
  return `${estimated ? "~" : ""}${n.toLocaleString("en-US")}`;
}

/** A duration in ms as "3 s", "4 min", "2 h", "5 d". */
export function age(ms: number | null): string {
  if (ms === null) return "–";
  const s = ms / 1000;
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/** A timestamp as ISO text in a <time> element (UTC). */
export function time(d: Date | null | undefined): Safe {
  if (!d) return html`<span class="muted">–</span>`;
  const iso = d.toISOString();
  return html`<time datetime="${iso}">${iso.replace("T", " ").replace(/\.\d+Z$/, "Z")}</time>`;
}

/** Most characters of JSON shown on a job page; past this the page says it cut the text. */
export const PRETTY_MAX_CHARS = 200_000;

/** Pretty JSON in a <pre>, cut past PRETTY_MAX_CHARS. */
export function prettyJson(value: unknown): Safe {
  const text = JSON.stringify(value, null, 2) ?? "null";
  if (text.length <= PRETTY_MAX_CHARS) return html`<pre class="json">${text}</pre>`;
  return html`<pre class="json">${text.slice(0, PRETTY_MAX_CHARS)}</pre><p class="note">Cut at ${count(PRETTY_MAX_CHARS)} of ${count(text.length)} characters; the JSON API returns it whole.</p>`;
}
