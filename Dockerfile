# syntax=docker/dockerfile:1
# Infrastructure Wizard: `wizard serve` in a small non-root image.
#   docker build -t infrastructure-wizard .
#   docker run --env-file .env -p 3000:3000 infrastructure-wizard
# or, with Redis beside it: docker compose up -d (docker-compose.yaml).
#
# The base is pinned to a patch release and Debian suite so a rebuild gets the same Python; pin
# the digest too in your registry mirror (PYTHON_IMAGE=python:3.12.12-slim-bookworm@sha256:…).
ARG PYTHON_IMAGE=python:3.12.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# A venv without its own pip: the base image's pip installs into it (--python), so the runtime
# stage copies only the application and its dependencies, not an installer. Every dependency is a
# manylinux wheel, so no compiler is needed here either. Bytecode is compiled now, because the
# runtime filesystem is read-only and would otherwise recompile every module on every start.
# The dependencies are exactly requirements/runtime.lock (hash-checked), in their own layer so a
# code change does not reinstall them; the project itself then needs nothing new (--no-deps, and
# the locked setuptools as its build backend), and setuptools leaves before the copy.
COPY requirements/runtime.lock ./requirements/runtime.lock
RUN python -m venv --without-pip /opt/venv \
 && pip --python /opt/venv/bin/python install --require-hashes -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip --python /opt/venv/bin/python install --no-deps --no-build-isolation . \
 && pip --python /opt/venv/bin/python uninstall -y setuptools \
 && rm -rf /src

FROM ${PYTHON_IMAGE}
# Numeric uid/gid so Kubernetes' runAsNonRoot can check it without a passwd lookup.
RUN groupadd --system --gid 10001 wizard \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /app \
        --shell /usr/sbin/nologin wizard \
 && mkdir -p /data \
 && chown 10001:10001 /data
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY prompts ./prompts
COPY runbooks ./runbooks
# The example catalog and freeze calendar, so `wizard check` and the market-hours logic work out
# of the box; mount your own over them (the Helm chart does, from ConfigMaps).
COPY catalog.yaml freezes.yaml ./
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WIZARD_PROMPTS_DIR=/app/prompts \
    WIZARD_RUNBOOKS_DIR=/app/runbooks \
    WIZARD_CATALOG_PATH=/app/catalog.yaml \
    WIZARD_FREEZES_PATH=/app/freezes.yaml \
    WIZARD_DATA_DIR=/data
USER 10001:10001
# /data: the audit file copy, and the embedded Redis when REDIS_URL is unset.
VOLUME ["/data"]
EXPOSE 3000
# `serve` answers /healthz on the port in HTTP and in Socket Mode alike.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=2).status == 200 else 1)"]
# SIGTERM (docker stop, a Kubernetes rollout) drains: intake closes, jobs in hand finish.
STOPSIGNAL SIGTERM
CMD ["wizard", "serve", "--port", "3000"]
