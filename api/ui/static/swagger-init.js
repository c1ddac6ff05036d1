// Swagger UI as the signed-in user: requests carry the session cookie and its CSRF token.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  window.ui = SwaggerUIBundle({
    url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
    requestInterceptor: (req) => { if (!req.headers.Authorization) req.headers["X-CSRF-Token"] = csrf; return req; },
  });
})();
