#syntax = docker/dockerfile:1.7-labs
# comment right after directive

ARG BASE=debian:bookworm
ARG VERSION="1.2.3"
FROM ${BASE} AS base
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive \
    TZ="Europe/Paris" \
    EMPTY= \
    QUOTED='single $quoted'
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      curl \
 # inline comment line inside continuation
 && rm -rf /var/lib/apt/lists/*
RUN echo "a # not a comment" && echo $((1<<3)) && cat <<< "here string"
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update
COPY --parents --exclude=*.tmp ./src/**/*.go /app/
ADD --chmod=644 --link https://example.com/file.txt /tmp/file.txt
ADD git@github.com:moby/buildkit.git#v0.14.0 /buildkit
WORKDIR $HOME/app
EXPOSE ${PORT:-8080}/tcp
USER ${UID:-1000}:${GID:-1000}
HEALTHCHECK --interval=1m30s --timeout=10s --start-period=1m --start-interval=5s \
    CMD ["curl", "-f", "http://localhost:8080/healthz"]
ONBUILD ARG X
LABEL org.opencontainers.image.version=$VERSION
CMD []
ENTRYPOINT ["tini", "--"]

FROM base AS test
RUN --network=none --security=insecure make test

FROM scratch AS export
COPY --from=test /app/report.xml /
