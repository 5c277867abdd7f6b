// The Content-Security-Policy of everything the site serves, the page and
// the Swagger UI reference alike: only this origin's scripts and styles, no
// inline script or style, no plugins, no framing, and calls to this origin
// only (the page's RPCs and the reference's "Try it out").
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  // data: for Swagger UI's inline SVG icons; blob: for the preview of a picked image.
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");
