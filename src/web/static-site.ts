// Serves the built web page, the API reference and their assets (dist/web)
// to browsers. Every file is read once at start and answered from memory by
// its exact URL, so no request path ever reaches the file system (no
// traversal) and only the files that exist are claimed: every other path,
// and every RPC path, goes on to the RPC router. Open: it needs no API key.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { NodeHandler } from "../transport/node-handler.js";
import { CONTENT_SECURITY_POLICY } from "./content-security-policy.js";

type Request = Parameters<NodeHandler>[0];
type Response = Parameters<NodeHandler>[1];

/** Answers the request and returns true if it names a file of the site; else returns false and leaves it alone. */
export type SiteHandler = (req: Request, res: Response) => boolean;

interface Entry {
  body: Buffer;
  gzip?: Buffer;
  headers: Record<string, string>;
  etag: string;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
};
const COMPRESSIBLE = new Set([".html", ".js", ".css", ".json", ".map", ".svg", ".txt"]);
// Files under assets/ carry a hash of their content in their name: a new build gives a new name.
const IMMUTABLE = "public, max-age=31536000, immutable";
// Pages and the API document keep their URL across builds: revalidate every time (cheap, with the ETag).
const REVALIDATE = "no-cache";

/** The built site next to the running code: dist/web, from src/ (tsx, tests) or dist/src/ (production). */
export function defaultWebRoot(): string {
  const here = fileURLToPath(new URL(".", import.meta.url));
  const inDist = here.includes(`${sep}dist${sep}src${sep}`);
  return join(here, inDist ? "../../web" : "../../dist/web");
}

/** The site's handler; answers nothing (always false) when `root` holds no build. */
export function staticSite(root: string = defaultWebRoot()): SiteHandler {
  const files = loadSite(root);
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const entry = files.get(path);
    if (!entry) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
      res.end("method not allowed\n");
      return true;
    }
    const gzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
    const headers: Record<string, string> = { ...entry.headers, etag: entry.etag };
    if (req.headers["if-none-match"] === entry.etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    const body = gzip && entry.gzip ? entry.gzip : entry.body;
    if (body !== entry.body) headers["content-encoding"] = "gzip";
    headers["content-length"] = String(body.length);
    res.writeHead(200, headers);
    if (req.method === "HEAD") res.end();
    else res.end(body);
    return true;
  };
}

/** URL path → file. `index.html` in a folder answers for the folder: `/`, `/docs`. */
function loadSite(root: string): Map<string, Entry> {
  const files = new Map<string, Entry>();
  if (!existsSync(root)) return files;
  for (const file of walk(root)) {
    const rel = relative(root, file).split(sep).join("/");
    const ext = extname(file);
    const body = readFileSync(file);
    const entry: Entry = {
      body,
      gzip: COMPRESSIBLE.has(ext) && body.length > 1024 ? gzipSync(body) : undefined,
      etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
      headers: {
        "content-type": TYPES[ext] ?? "application/octet-stream",
        "cache-control": rel.startsWith("assets/") ? IMMUTABLE : REVALIDATE,
        "content-security-policy": CONTENT_SECURITY_POLICY,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        vary: "accept-encoding",
      },
    };
    if (rel === "index.html") files.set("/", entry);
    else if (rel.endsWith("/index.html")) files.set(`/${rel.slice(0, -"/index.html".length)}`, entry);
    else files.set(`/${rel}`, entry);
  }
  return files;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}
