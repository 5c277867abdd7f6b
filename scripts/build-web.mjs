// Builds the web page and the API reference into one folder (dist/web by
// default), as the server serves it: web/index.html at /, web/docs at /docs,
// the generated OpenAPI document at /openapi.json, and the bundles (esbuild)
// under assets/ with a hash of their content in their names, so the server
// can let browsers cache them for good.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

const PAGES = [
  { template: "web/index.html", out: "index.html" },
  { template: "web/docs/index.html", out: "docs/index.html" },
];
const ENTRIES = { main: "web/app/main.ts", docs: "web/docs/docs.ts" };
const OPENAPI = "gen/openapi/prediction.v1.openapi.json";

export async function buildWeb(outdir = "dist/web") {
  rmSync(outdir, { recursive: true, force: true });
  const { metafile } = await build({
    entryPoints: ENTRIES,
    outdir: join(outdir, "assets"),
    entryNames: "[name]-[hash]",
    assetNames: "[name]-[hash]",
    bundle: true,
    format: "esm",
    target: "es2022",
    platform: "browser",
    minify: true,
    metafile: true,
    legalComments: "linked",
    logLevel: "warning",
  });
  // "%main.js%" in a template becomes the URL of the main entry's bundle.
  const urls = {};
  const url = (file) => `/${relative(outdir, file).split("\\").join("/")}`;
  for (const [file, output] of Object.entries(metafile.outputs)) {
    const name = Object.keys(ENTRIES).find((n) => output.entryPoint === ENTRIES[n]);
    if (!name) continue;
    urls[`%${name}.js%`] = url(file);
    if (output.cssBundle) urls[`%${name}.css%`] = url(output.cssBundle);
  }
  for (const { template, out } of PAGES) {
    let html = readFileSync(template, "utf8");
    html = html.replace(/%[a-z]+\.(js|css)%/g, (key) => {
      if (!urls[key]) throw new Error(`${template}: no bundle for ${key}`);
      return urls[key];
    });
    mkdirSync(join(outdir, out, ".."), { recursive: true });
    writeFileSync(join(outdir, out), html);
  }
  copyFileSync(OPENAPI, join(outdir, "openapi.json"));
}

if (import.meta.url === `file://${process.argv[1]}`) await buildWeb(process.argv[2]);
