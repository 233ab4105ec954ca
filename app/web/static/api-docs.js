// The API reference: Swagger UI over /api/v1/openapi.json. "Try it out" calls the API as the
// signed-in user, so writes carry the page's CSRF token as every page's requests do.
(function () {
  const holder = document.getElementById("swagger-ui");
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  window.SwaggerUIBundle({
    url: holder.dataset.spec,
    domNode: holder,
    deepLinking: true,
    docExpansion: "none",
    defaultModelsExpandDepth: 0,
    requestInterceptor: (request) => {
      request.headers["X-CSRFToken"] = csrf;
      return request;
    },
  });
})();
