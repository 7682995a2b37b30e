// Swagger UI for /api/docs (an external file: the CSP allows no inline script)
(function () {
  "use strict";
  var el = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({ url: el.dataset.spec, dom_id: "#swagger-ui",
                                deepLinking: true });
})();
