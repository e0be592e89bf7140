# One image for the three Python roles (web, worker, beat); docker-compose.yml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DFY_VAR_DIR=/app/var
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
RUN useradd --create-home portal && mkdir -p /app/var && chown portal /app/var
USER portal
# collectstatic needs settings to import; secrets are only placeholders at build time.
RUN DJANGO_SECRET_KEY=build DFY_ENCRYPTION_KEYS=YnVpbGQtb25seS1rZXktbm90LWZvci11c2UtMDAwMDA= \
    DJANGO_ALLOWED_HOSTS=build python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "dfyportal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
