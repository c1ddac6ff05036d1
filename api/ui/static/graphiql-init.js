// GraphiQL as the signed-in user: the session cookie travels with each request and the CSRF
// token (not secret from this page) proves the request comes from it. No token in the page.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const root = document.getElementById("graphiql");
  const fetcher = GraphiQL.createFetcher({url: "/graphql", headers: {"X-CSRF-Token": csrf}});
  const element = React.createElement(GraphiQL, {fetcher, defaultQuery: root.dataset.query,
    query: root.dataset.query, defaultEditorToolsVisibility: false, isHeadersEditorEnabled: true});
  ReactDOM.createRoot(root).render(element);
})();
