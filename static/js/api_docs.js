// Starts Swagger UI on /v1/docs (templates/drf_spectacular/swagger_ui.html) from the page's
// data attributes: drf-spectacular's inline start-up script, as a file the page's
// Content-Security-Policy allows. /v1 takes bearer tokens, so no CSRF header is added.
"use strict";

(() => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.schemaUrl,
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    ...JSON.parse(root.dataset.settings || "{}"),
  });
})();
