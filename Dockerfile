# Infrastructure Wizard: `wizard serve` in a small non-root image.
# Build: docker build -t infrastructure-wizard .
# Run:   docker run --env-file .env -p 3000:3000 infrastructure-wizard
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.12-slim
RUN useradd --system --uid 10001 --home-dir /app wizard
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY prompts ./prompts
COPY runbooks ./runbooks
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    WIZARD_PROMPTS_DIR=/app/prompts \
    WIZARD_RUNBOOKS_DIR=/app/runbooks \
    WIZARD_DATA_DIR=/data
RUN mkdir -p /data && chown wizard /data
USER wizard
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:3000/healthz').status == 200 else 1)"
CMD ["wizard", "serve", "--port", "3000"]
