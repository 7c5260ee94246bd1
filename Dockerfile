# syntax=docker/dockerfile:1
# The xlsim image: `docker compose up` builds it (see docker-compose.yml and the README).
# Two stages: the first installs the locked, hash-checked dependencies into /opt/venv; the
# second holds that venv, the code and nothing else (no compiler, no pip cache, no .env: the
# .dockerignore admits only the files listed there). Configuration comes from the environment
# at run time; .env.example documents every variable.
ARG PYTHON_IMAGE=python:3.11.10-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# 1 installs requirements-gpu.lock instead: the same pins plus numba-cuda and NVIDIA's CUDA
# libraries as wheels, for the compose file's gpu profile (no CUDA base image needed).
ARG INSTALL_GPU=0
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
COPY requirements.lock requirements-gpu.lock /tmp/
RUN lock=/tmp/requirements.lock \
    && if [ "$INSTALL_GPU" = "1" ]; then lock=/tmp/requirements-gpu.lock; fi \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --no-deps -r "$lock" \
    && find /opt/venv -name '__pycache__' -type d -prune -exec rm -rf {} +

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ADDRESS=0.0.0.0 \
    PORT=8501 \
    DATA_DIR=/data \
    LOG_FORMAT=json \
    NUMBA_CACHE_DIR=/data/.numba-cache \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
# A fixed non-root user that owns only the data directory; the code stays root-owned, read-only.
RUN groupadd --gid 10001 xlsim \
    && useradd --uid 10001 --gid xlsim --no-create-home --home-dir /data \
         --shell /usr/sbin/nologin xlsim \
    && mkdir /data && chown xlsim:xlsim /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY app.py ./
COPY .streamlit ./.streamlit
COPY pages ./pages
COPY ui ./ui
COPY services ./services
COPY db ./db
COPY engine ./engine
USER xlsim
VOLUME ["/data"]
EXPOSE 8501
# Streamlit's /_stcore/health and a query on the metadata database (services/health.py).
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s --retries=3 \
    CMD ["python", "-m", "services.health"]
CMD ["python", "-m", "services.serve"]
