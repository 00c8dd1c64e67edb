# syntax=docker/dockerfile:1.7
#
# One image for every Wattlane process (charts/wattlane runs it as identity, assets, billing, the
# CSMS and the worker). Multi-stage: wheels of every project of the monorepo and of every pinned
# dependency are built in `build` (compilers allowed there), then installed without network or
# compilers into a slim Python 3.11 base that runs as a non-root user and needs no writable root
# filesystem (/tmp is the only scratch space the processes use; the chart mounts an emptyDir).
#
#   docker build -t wattlane .                  # the platform image (the chart's default)
#   docker build --target csms -t wattlane-csms .   # one process: identity|assets|billing|csms|worker
#   docker run wattlane python -m wattlane.csms settings
#
# No container engine runs in this project's CI: tests/image checks this file instead (parsed
# with dockerfile-parse: stages, COPY sources against the tree and .dockerignore, entry modules,
# nothing compiled or fetched in the final stage, checkov's Dockerfile checks) and builds the
# projects' wheels the way the `build` stage does.

# The same slim Debian 12 Python 3.11 base for both stages (the wheels must match its Python and
# glibc); pin its digest here when the registry is reachable (`FROM python:3.11-slim-bookworm@sha256:...`).
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
# A compiler for any pinned dependency without a wheel for this platform (this stage only).
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY constraints.txt ./
COPY contracts/ contracts/
COPY core/ core/
COPY proto/ proto/
COPY svc-identity/ svc-identity/
COPY svc-assets/ svc-assets/
COPY svc-billing/ svc-billing/
COPY svc-csms/ svc-csms/
COPY workflows/ workflows/
COPY cli/ cli/
COPY simulator/ simulator/
# Every project of the monorepo and all their dependencies as wheels, at the versions of the one
# lock file (constraints.txt); hatchling (pinned there too) builds ours.
RUN pip install -c constraints.txt hatchling \
    && pip wheel --no-build-isolation -c constraints.txt --wheel-dir /wheels \
        ./contracts ./core ./proto ./svc-identity ./svc-assets ./svc-billing ./svc-csms ./workflows \
        ./cli ./simulator

FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/wattlane/bin:$PATH \
    HOME=/tmp \
    TMPDIR=/tmp
RUN groupadd --system --gid 10001 wattlane \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin wattlane
# Installed from the build stage's wheels only: no index, no source builds, no compiler here.
# Bytecode is compiled now, so a read-only root filesystem costs nothing at start.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/wattlane \
    && /opt/wattlane/bin/pip install --no-index --only-binary=:all: --find-links /wheels \
        --no-cache-dir --disable-pip-version-check /wheels/wattlane_*.whl \
    && /opt/wattlane/bin/pip uninstall -y pip \
    && python -m compileall -q /opt/wattlane
WORKDIR /opt/wattlane
USER 10001:10001
STOPSIGNAL SIGTERM
# gRPC (identity, assets, billing, csms), OCPP-J, side ports (/metrics, /healthz, /readyz).
EXPOSE 50051 50052 50053 50061 9000 9151 9152 9153 9154 9161

# One target per process: `python -m wattlane.<module>` with `serve` by default
# (`migrate` and `settings` as arguments). HEALTHCHECK for plain Docker; Kubernetes uses the
# chart's probes on the same side port.
FROM runtime AS identity
HEALTHCHECK --interval=10s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9151/healthz', timeout=2)"]
ENTRYPOINT ["python", "-m", "wattlane.identity"]
CMD ["serve"]

FROM runtime AS assets
HEALTHCHECK --interval=10s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9152/healthz', timeout=2)"]
ENTRYPOINT ["python", "-m", "wattlane.assets"]
CMD ["serve"]

FROM runtime AS billing
HEALTHCHECK --interval=10s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9154/healthz', timeout=2)"]
ENTRYPOINT ["python", "-m", "wattlane.billing"]
CMD ["serve"]

FROM runtime AS csms
HEALTHCHECK --interval=10s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9161/healthz', timeout=2)"]
ENTRYPOINT ["python", "-m", "wattlane.csms"]
CMD ["serve"]

FROM runtime AS worker
HEALTHCHECK --interval=10s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9153/healthz', timeout=2)"]
ENTRYPOINT ["python", "-m", "wattlane.workflows"]
CMD ["serve"]

# The default target: every process in one image; the chart picks one per Deployment with
# `command: [python, -m, wattlane.<module>]`. Without a command it shows the CLI's help.
FROM runtime AS platform
HEALTHCHECK NONE
CMD ["wattlane", "--help"]
