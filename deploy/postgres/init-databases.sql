-- One database per Lotse service (LOTSE_DATABASE_URL=.../lotse_{service}); services never share
-- tables. The postgres image runs this once, as POSTGRES_USER, when its data volume is empty;
-- on an existing server run it with: psql -U lotse -d postgres -f init-databases.sql
-- The owner is the connecting role (lotse); tables are created by the services at start.
CREATE DATABASE lotse_cases;
CREATE DATABASE lotse_plans;
CREATE DATABASE lotse_funding;
CREATE DATABASE lotse_notifications;
CREATE DATABASE lotse_federation;
-- The per-case data keys (crypto-shredding): apart from every service database, backed up on its own.
CREATE DATABASE lotse_keys;
