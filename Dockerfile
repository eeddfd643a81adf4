# wep-gateway: the service only. PyAV's wheel bundles its own FFmpeg and aiortc's deps
# ship wheels, so the runtime needs no compiler and no apt ffmpeg.
#   docker build -t wep-gateway .
#   docker run -p 8080:8080 -v $PWD/gateway.toml:/etc/wep-gateway/gateway.toml:ro \
#     -e WEPGW_WEP_PASSWORD=... -e WEPGW_AUTH_ADMIN_KEY=... wep-gateway
# Every config key can come from the environment instead: WEPGW_<SECTION>_<KEY>.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/wep-gateway
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY gateway ./gateway
COPY transcoders ./transcoders
RUN /opt/wep-gateway/bin/pip install --no-compile . \
 && /opt/wep-gateway/bin/python -m compileall -q /opt/wep-gateway/lib

FROM python:3.11-slim
RUN groupadd --system --gid 10001 wepgw \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/wep-gateway --create-home \
    --shell /usr/sbin/nologin wepgw
COPY --from=build /opt/wep-gateway /opt/wep-gateway
COPY config/gateway.toml /etc/wep-gateway/gateway.toml
ENV PATH=/opt/wep-gateway/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    WEPGW_SERVER_LISTEN=0.0.0.0:8080 \
    WEPGW_PUSHES_DB_PATH=/var/lib/wep-gateway/pushes.sqlite3
USER 10001:10001
WORKDIR /var/lib/wep-gateway
VOLUME ["/var/lib/wep-gateway"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=4s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=3)"]
ENTRYPOINT ["wep-gateway"]
CMD ["serve", "--config", "/etc/wep-gateway/gateway.toml"]
