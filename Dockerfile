# Tooldesk in a container: the console on 0.0.0.0:8080, sign-in on, its SQLite file in the volume /data.
#   docker build -t tooldesk .
#   docker run -p 8080:8080 -v tooldesk-data:/data tooldesk      (the first start prints a sign-in link: docker logs)
# TOOLDESK_PUBLIC_URL is the address browsers and the platform use; the console answers no other Host name (the
# default suits a browser on the same machine; the embedded simulator calls it from inside the container).
# README "Deploy" says more (compose.yaml, the settings to give a real platform, Python handlers in a container).
# tests/deploy/test_image_install.py replays this file's install steps and its start on the host: keep the builder's
# RUN lines to venv and pip commands, and paths under /opt/venv, /opt/tooldesk and /data.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: the virtualenv with the locked dependencies, and the console installed into it
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements.lock /opt/tooldesk/requirements.lock
RUN /opt/venv/bin/pip install --no-cache-dir -r /opt/tooldesk/requirements.lock
COPY pyproject.toml /opt/tooldesk/pyproject.toml
COPY app /opt/tooldesk/app
COPY fixtures/scenarios /opt/tooldesk/fixtures/scenarios
COPY fixtures/handlers /opt/tooldesk/fixtures/handlers
# editable: the code stays in /opt/tooldesk, where the demo agents and handlers are found (fixtures/, beside app/)
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --editable /opt/tooldesk

# ---- run: the slim base, bubblewrap for Python handlers, the virtualenv and the code; no compiler, no pip cache
FROM ${PYTHON_IMAGE}
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 tooldesk \
    && useradd --system --uid 10001 --gid tooldesk --home-dir /data --no-create-home --shell /usr/sbin/nologin tooldesk \
    && mkdir /data \
    && chown tooldesk:tooldesk /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/tooldesk /opt/tooldesk
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TOOLDESK_HOST=0.0.0.0 \
    TOOLDESK_PORT=8080 \
    TOOLDESK_PUBLIC_URL=http://localhost:8080 \
    TOOLDESK_DATABASE_URL=sqlite:////data/tooldesk.db \
    TOOLDESK_AUTH=on
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# liveness only (no database work); /readyz says whether the database and the platform settings are right
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('TOOLDESK_PORT', '8080') + '/healthz', timeout=4)"]
CMD ["python", "-m", "app", "serve"]
