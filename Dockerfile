FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY headwater headwater
COPY catalog catalog
COPY lineage lineage
COPY ingestion ingestion
COPY policies policies
COPY api api
RUN pip install --no-cache-dir .
ENV HEADWATER_HOST=0.0.0.0 HEADWATER_DATA_DIR=/data
EXPOSE 5000
ENTRYPOINT ["headwater"]
CMD ["serve"]
