// Small helpers every module of the page shares.

// params are the page's query parameters (docs/browser.md).
export const params = new URLSearchParams(location.search);

// log writes to the console: never SDP or candidates, only the message and
// an error name.
export function log(msg, detail) {
  const d = detail instanceof Error ? detail.name + ': ' + detail.message : detail;
  console.log('[peercall] ' + msg, d === undefined ? '' : d);
}
