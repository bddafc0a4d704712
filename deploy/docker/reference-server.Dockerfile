# The reference chat server as a small image: build with
#   docker build -f deploy/docker/reference-server.Dockerfile -t reference-server .
# from the repository root, run with e.g.
#   docker run -p 5000:5000 reference-server --listen 0.0.0.0:5000 --redis-url redis://redis:6379
# Uploaded files go to /data/uploads (mount a volume there, or use --s3-bucket).
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p reference-server \
 && cp target/release/reference-server /reference-server

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data/uploads && chown 65532:65532 /data/uploads
COPY --from=build /reference-server /usr/local/bin/reference-server
USER 65532:65532
WORKDIR /data
EXPOSE 5000
ENTRYPOINT ["reference-server"]
CMD ["--listen", "0.0.0.0:5000", "--files-dir", "/data/uploads"]
