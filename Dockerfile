# GraphiQL and Swagger UI for the web UI, from the npm registry (pinned by the lock file).
FROM node:20-slim AS ui-assets
WORKDIR /assets
COPY api/ui/assets/package.json api/ui/assets/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error && mkdir vendor && cd node_modules && cp \
    react/umd/react.production.min.js react-dom/umd/react-dom.production.min.js \
    graphiql/graphiql.min.js graphiql/graphiql.min.css \
    swagger-ui-dist/swagger-ui-bundle.js swagger-ui-dist/swagger-ui.css ../vendor/

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY headwater headwater
COPY catalog catalog
COPY lineage lineage
COPY ingestion ingestion
COPY policies policies
COPY api api
COPY --from=ui-assets /assets/vendor api/ui/static/vendor
RUN pip install --no-cache-dir .
ENV HEADWATER_HOST=0.0.0.0 HEADWATER_DATA_DIR=/data
EXPOSE 5000
ENTRYPOINT ["headwater"]
CMD ["serve"]
