FROM debian:bookworm-slim
MAINTAINER Someone <someone@example.com>
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
ARG VERSION
ARG BUILD_DATE=unknown
LABEL version="${VERSION:-dev}" built="$BUILD_DATE" description="A \"quoted\" label"
RUN set -ex; \
    apt-get update; \
# an interleaved comment
    apt-get install -y --no-install-recommends curl; \
    rm -rf /var/lib/apt/lists/*
ADD https://example.com/archive.tar.gz /tmp/
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/x /x
ADD rootfs.tar /
COPY --exclude=*.md --exclude=docs/ src/ /opt/src/
COPY ["a file.txt", "b.txt", "/opt/"]
ONBUILD COPY . /app/src
ONBUILD RUN make
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN curl -fsSL https://example.com | wc -l
EXPOSE 80/tcp 443 53/udp
HEALTHCHECK NONE
WORKDIR /srv
USER www-data
CMD ["nginx", "-g", "daemon off;"]
