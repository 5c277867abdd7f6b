// swagger-ui-dist ships no types; the page uses this one entry point.
declare module "swagger-ui-dist/swagger-ui-bundle.js" {
  export default function SwaggerUIBundle(config: Record<string, unknown>): unknown;
}
