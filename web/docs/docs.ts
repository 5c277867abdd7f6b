// The interactive API reference at /docs: Swagger UI from the swagger-ui-dist
// npm package (bundled, no CDN) on the generated /openapi.json. "Authorize"
// takes the API key; "Try it out" calls this server's Connect JSON endpoints.
import "swagger-ui-dist/swagger-ui.css";
import SwaggerUIBundle from "swagger-ui-dist/swagger-ui-bundle.js";

SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  // The key is kept for this tab only, as the page keeps it.
  persistAuthorization: false,
  tryItOutEnabled: true,
  displayRequestDuration: true,
  defaultModelsExpandDepth: 0,
});
