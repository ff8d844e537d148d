# The demo Hospital-ERP backend, one image per release tag (APP_VERSION selects the release's behaviour, see
# the release catalogue gameday/releases.py; the build always passes it).  BASE is gameday's Python base
# image (Debian + a venv with the pinned wheels), built locally by `gameday cluster up`; nothing is pulled.
ARG BASE
FROM ${BASE}
ARG APP_VERSION
ARG KEY=dev
LABEL io.gameday.key=${KEY} org.opencontainers.image.version=${APP_VERSION}
ENV APP_VERSION=${APP_VERSION} PORT=8080 PYTHONPATH=/app PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY app/ /app/
USER 10001
EXPOSE 8080
CMD ["python", "-m", "drills.service", "--host", "0.0.0.0", "--migrate"]
