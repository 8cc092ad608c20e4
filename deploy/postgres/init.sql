-- Creates the MLflow backend store next to the Airflow metadata database (POSTGRES_DB=airflow).
-- The postgres image runs this once, on the first start of an empty data volume
-- (/docker-entrypoint-initdb.d); changing it later needs a fresh volume or a manual run.
-- The password comes from the container's MLFLOW_DB_PASSWORD (psql \getenv, PostgreSQL 15+),
-- so no secret lives in this file.
\set ON_ERROR_STOP on
\getenv mlflow_db_password MLFLOW_DB_PASSWORD

\if :{?mlflow_db_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'MLFLOW_DB_PASSWORD is not set in the postgres container (see .env.example)'; END $$;
\endif

CREATE ROLE mlflow LOGIN PASSWORD :'mlflow_db_password';
CREATE DATABASE mlflow OWNER mlflow;
-- Only the owner (and the superuser) may connect; the default grants CONNECT to PUBLIC.
REVOKE ALL ON DATABASE mlflow FROM PUBLIC;
