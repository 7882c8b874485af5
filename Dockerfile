# Multi-stage image for crm: a Swift 6.2 image builds the release binary; a slim Debian runs it
# as an unprivileged user with only libpq beside it. docker-compose.yml uses it.
FROM swift:6.2-bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libpq-dev libssl-dev libcurl4-openssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so that editing the sources does not refetch them.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
COPY bench/http-server ./bench/http-server
RUN swift build -c release --product crm --static-swift-stdlib \
    && cp "$(swift build -c release --show-bin-path)/crm" /usr/local/bin/crm

FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libpq5 libssl3 libcurl4 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin crm
COPY --from=build /usr/local/bin/crm /usr/local/bin/crm
COPY sql /app/sql
COPY openapi.yaml /app/openapi.yaml
WORKDIR /app
USER crm
ENV CRM_MIGRATIONS_DIR=/app/sql \
    CRM_HOST=0.0.0.0 \
    CRM_PORT=8080
EXPOSE 8080
ENTRYPOINT ["crm"]
CMD ["serve"]
