# iaewatch service image: multi-stage, non-root, migrations applied before start.
# Build: docker build -t iaewatch .   Run: docker run -p 8000:8000 -e IAEWATCH_SECRET_KEY=... \
#   -e IAEWATCH_DATABASE_URL=postgresql+asyncpg://... -v /etc/iaewatch:/config iaewatch
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY core core
COPY drivers drivers
COPY monitors monitors
COPY simulators simulators
COPY app app
COPY migrations migrations
RUN python -m venv /opt/iaewatch \
 && /opt/iaewatch/bin/pip install --no-cache-dir -c constraints.txt .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/iaewatch --create-home iaewatch
COPY --from=build /opt/iaewatch /opt/iaewatch
ENV PATH=/opt/iaewatch/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    IAEWATCH_DATABASE_URL=sqlite+aiosqlite:////var/lib/iaewatch/iaewatch.db
USER iaewatch
WORKDIR /var/lib/iaewatch
EXPOSE 8000 2575
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health').status != 200)"
CMD ["sh", "-c", "iaewatch db upgrade && exec iaewatch serve --host 0.0.0.0 --port 8000 --config /config/iaewatch.yaml"]
