# syntax=docker/dockerfile:1.4
FROM python:3.12-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN <<EOF
set -eux
apt-get update
apt-get install -y --no-install-recommends build-essential
rm -rf /var/lib/apt/lists/*
EOF

WORKDIR /app
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked \
    pip wheel --wheel-dir /wheels -r requirements.txt

FROM python:3.12-slim
LABEL org.opencontainers.image.title="demo" \
      org.opencontainers.image.source="https://example.com/demo"
COPY --from=builder /wheels /wheels
RUN pip install --no-index --find-links=/wheels /wheels/* && rm -rf /wheels
COPY <<-"EOT" /app/config.ini
	[server]
	port = ${PORT}
	EOT
COPY <<EOF /app/version.txt
built with python ${PYTHON_VERSION}
EOF
RUN python3 <<PY
import sys
print("python", sys.version)
PY
RUN <<A cat > /a.txt && <<B cat > /b.txt
first
A
second
B
RUN --mount=type=secret,id=pypi,env=PIP_INDEX_URL \
    --mount=type=tmpfs,target=/tmp \
    --network=none \
    pip --version
WORKDIR /app
COPY --chmod=0755 --link entrypoint.sh /usr/local/bin/
USER 1000:1000
VOLUME ["/data"]
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["python", "-m", "app"]
