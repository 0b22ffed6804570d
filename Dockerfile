# syntax=docker/dockerfile:1
# The operator image: one Python process, no Atlas binary, no compilers.
#   docker build -t atlas-operator:dev .
# Every dependency ships as a binary wheel (psycopg[binary], pydantic-core, PyYAML), so
# neither stage needs a C toolchain; the final stage only copies the virtualenv.

ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ONLY_BINARY=:all:
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
# setuptools builds our own (pure Python) wheel; every dependency must be a wheel.
# Byte-code is compiled now because the root filesystem is read-only at run time.
RUN python -m venv /opt/atlas-operator \
 && /opt/atlas-operator/bin/pip install --no-binary atlas-operator-py . \
 && /opt/atlas-operator/bin/python -m compileall -q -j 0 /opt/atlas-operator/lib \
 && /opt/atlas-operator/bin/python -m pip uninstall --yes pip

FROM python:${PYTHON_VERSION}-slim-bookworm
ARG VERSION=dev
LABEL org.opencontainers.image.title="atlas-operator" \
      org.opencontainers.image.description="Kubernetes operator for database schemas (AtlasSchema, AtlasMigration), in Python" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /opt/atlas-operator /opt/atlas-operator
COPY LICENSE /licenses/LICENSE
# HOME and the temporary directory are the /tmp emptyDir the chart mounts; nothing
# else is written (no byte-code, no caches), so readOnlyRootFilesystem works.
ENV PATH=/opt/atlas-operator/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    ATLAS_KUBERNETES_OPERATOR=1
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["atlas-operator"]
CMD ["run", "--health-probe-bind-address=:8081", "--metrics-bind-address=:8080"]
