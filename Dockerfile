# syntax=docker/dockerfile:1
# bugwarden: governed MCP access to error trackers.
#   docker run -i --rm -e BUGSNAG_AUTH_TOKEN -v bugwarden-state:/data ghcr.io/bugwarden/bugwarden      (stdio)
#   docker run --rm -p 8000:8000 -e BUGSNAG_AUTH_TOKEN -v bugwarden-state:/data ghcr.io/bugwarden/bugwarden \
#       serve --transport http --host 0.0.0.0 --allowed-host mcp.example.com                           (HTTP)
# No secret is baked in: credentials come from the environment at run time.

FROM python:3.12-slim AS build
WORKDIR /src
RUN python -m venv /opt/bugwarden
COPY pyproject.toml README.md ./
COPY src ./src
# With PostgreSQL support (BUGWARDEN_DATABASE_URL), so one image serves a laptop and a set of replicas.
RUN /opt/bugwarden/bin/pip install --no-cache-dir ".[postgres]"

FROM python:3.12-slim
LABEL io.modelcontextprotocol.server.name="io.github.bugwarden/bugwarden" \
      org.opencontainers.image.source="https://github.com/bugwarden/bugwarden" \
      org.opencontainers.image.description="Governed MCP access to error trackers"
RUN groupadd --system --gid 10001 bugwarden \
 && useradd --system --uid 10001 --gid bugwarden --home-dir /data --shell /usr/sbin/nologin bugwarden \
 && mkdir -p /data && chown bugwarden:bugwarden /data && chmod 700 /data
COPY --from=build /opt/bugwarden /opt/bugwarden
ENV PATH="/opt/bugwarden/bin:$PATH" \
    BUGWARDEN_HOME=/data \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
USER bugwarden
EXPOSE 8000
# Matched to the transport: with `serve|demo --transport http` it asks /healthz on the port given; a stdio
# container (one client on its stdin) or a one-off command is healthy while it runs (src/bugwarden/health.py).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["python", "-m", "bugwarden.health"]
ENTRYPOINT ["bugwarden"]
CMD ["serve"]
