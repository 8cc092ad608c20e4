-- Creates the databases that live next to the Airflow metadata database (POSTGRES_DB=airflow):
--   mlflow       MLflow's backend store (runs, registry), owned by the `mlflow` role;
--   mlflow_auth  the users and permissions of MLflow's basic auth, owned by `mlflow` too;
--   feast        Feast's SQL registry, owned by `airflow` (only Airflow's tasks write it).
-- The postgres image runs this once, on the first start of an empty data volume
-- (/docker-entrypoint-initdb.d); changing it later needs a fresh volume or a manual run (on a
-- volume made before mlflow_auth and feast existed, run the two CREATE DATABASE blocks below
-- by hand: `docker compose exec postgres psql -U airflow -d airflow`).
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

CREATE DATABASE mlflow_auth OWNER mlflow;
REVOKE ALL ON DATABASE mlflow_auth FROM PUBLIC;

-- `airflow` is the image's superuser (POSTGRES_USER): it owns the registry, the mlflow role
-- cannot reach it.
CREATE DATABASE feast OWNER airflow;
REVOKE ALL ON DATABASE feast FROM PUBLIC;
