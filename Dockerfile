# Production image for web, worker and beat (docker-compose.yml). Python 3.11: Django 5.2 LTS.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpq-dev gcc libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY billing_site billing_site
COPY core core
COPY demo demo
COPY agreements agreements
COPY timesheets timesheets
COPY invoicing invoicing
COPY receivables receivables
COPY portal portal
COPY records records
COPY templates templates
COPY static static
COPY manage.py ./
RUN pip install --no-cache-dir -e . \
    && DEBUG=1 python manage.py collectstatic --noinput

RUN useradd --create-home billable && mkdir -p /app/var/media && chown -R billable /app/var
USER billable
EXPOSE 8000
CMD ["gunicorn", "billing_site.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "120"]
