# The modelplane runtime image: one statically linked binary (the Swift standard library and
# Foundation linked in; scripts/check-static-build checks that build on every CI run) on Debian
# slim with only the system libraries it uses (libcurl, SQLite, OpenSSL) and git (the Git sync).
#   docker build -t REGISTRY/modelplane:TAG . && docker push REGISTRY/modelplane:TAG
# then set the image in manifests/install/30-deployment.yaml or the chart's values.
FROM swift:6.3-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libcurl4-openssl-dev libsqlite3-dev libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product modelplane \
    && install -D -m 0755 "$(swift build -c release --static-swift-stdlib --show-bin-path)/modelplane" /out/modelplane \
    && strip /out/modelplane

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libcurl4 libsqlite3-0 libssl3 libstdc++6 git openssh-client ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 65532 modelplane \
    && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /var/lib/modelplane --shell /usr/sbin/nologin modelplane
COPY --from=build /out/modelplane /usr/local/bin/modelplane
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/modelplane"]
CMD ["controller", "--http-address=:8080"]
