"""Node settings: one pydantic-settings model, env prefix LOTSE_, optional TOML config file."""

from __future__ import annotations

import os
import re
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any, Literal, get_origin
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

AGS = re.compile(r"^\d{8}$")
NODE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
ALL_SERVICES = ("cases", "plans", "funding", "notifications", "federation")
WEB = "web"  # the web app: not a service of the bus, but a part a process may serve (split mode: alone)
# LOTSE_* names that are not settings: the config file's path, and the test suite's own variables.
NOT_SETTINGS = ("LOTSE_CONFIG",)
RESERVED_PREFIX = "LOTSE_TEST_"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class SettingsError(Exception):
    """A setting has a wrong value; the message names it in one line."""


class Settings(BaseSettings):
    """Everything a node needs to start; built once at start and passed down."""

    model_config = SettingsConfigDict(env_prefix="LOTSE_", extra="forbid", env_nested_delimiter="__")

    node_id: str = Field(default="dev-node", pattern=NODE_ID_PATTERN)
    level: Literal["municipal", "state"] = "municipal"
    # NoDecode: "08111000,08221000" in the environment is split by the validators below
    tenants: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["08111000"])
    services: Annotated[list[str], NoDecode] = Field(default_factory=lambda: [*ALL_SERVICES, WEB])
    data_dir: Path = Path("var/dev-node")
    redis_url: str | None = None
    # High availability: the primary named redis_master, found through these Sentinels (host:port, ...);
    # redis_url then only gives the user, password and database number.
    redis_sentinels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    redis_master: str | None = None
    database_url: str | None = None  # None: one SQLite file per service under data_dir
    # the per-case data keys (crypto-shredding), apart from the service databases; None: keys/subjects.db
    # under data_dir, or LOTSE_DATABASE_URL's database with {service} = keys
    keystore_url: str | None = None
    # upgrade a database behind the code at start; default: on only for the embedded SQLite default
    db_auto_upgrade: bool = True
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    http_threads: int = Field(default=8, ge=1, le=200)  # request worker threads
    # request bodies above this answer 413 unread (routes that need more declare their own limit)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024 * 1024)
    # per caller, on sign-in, statistics, exports and search: a burst, then so many a minute (else 429)
    rate_limit_per_minute: float = Field(default=60.0, gt=0, le=1_000_000)
    rate_limit_burst: int = Field(default=30, ge=1, le=1_000_000)
    otlp_endpoint: str | None = None
    oidc_issuer: str | None = None
    oidc_audience: str = "lotse"
    # web app sign-in at the issuer: the client registered for Lotse; no secret: a public client (PKCE)
    oidc_client_id: str = Field(default="lotse", min_length=1)
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid profile email"
    # web app: in split mode (`--services web`) the origin of the services' APIs
    web_api_url: str | None = None
    web_idle_timeout_s: float = Field(default=1800.0, ge=60, le=86400)
    web_secure_cookies: bool | None = None  # None: Secure unless the node listens on loopback
    # notifications: e-mail through SMTP; mailboxes map "<AGS>:<role>" or a user id to an address
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_sender: str = "lotse@localhost"
    mailboxes: dict[str, str] = Field(default_factory=dict)
    scheduler_interval_s: float = Field(default=60.0, gt=0)
    # federation: a municipal node's link to the state Redis (ACL user of this node)
    state_redis_url: str | None = None
    heartbeat_interval_s: float = Field(default=30.0, gt=0)
    node_silence_s: float = Field(default=300.0, gt=0)  # state: silent longer -> operator alert
    # state: the federation ingest (verify, republish) in a process of its own beside the read models:
    # auto = when this machine gives the node more than one core (shared/runtime/ingest_process.py)
    ingest_process: Literal["auto", "on", "off"] = "auto"
    # cases: how long a stand-in's break-glass access to a case outside their caseload lasts
    break_glass_hours: float = Field(default=3.0, gt=0, le=24)
    # A closed case's personal data is erased this many years after its closure (the deletion concept).
    retention_case_years: int = Field(default=3, ge=1, le=30)
    # bus tuning
    batch_size: int = Field(default=500, ge=1, le=10_000)
    block_ms: int = Field(default=200, ge=1, le=60_000)
    reclaim_idle_ms: int = Field(default=30_000, ge=10)
    reclaim_interval_ms: int = Field(default=1_000, ge=10)
    max_deliveries: int = Field(default=5, ge=1, le=100)
    outbox_interval_ms: int = Field(default=200, ge=1)
    # under load a relay publishes at most this often, so that consumers get larger batches (docs/benchmarks.md)
    outbox_coalesce_ms: int = Field(default=30, ge=0, le=1000)
    trim_interval_s: float = Field(default=30.0, gt=0)
    trim_retention_s: float = Field(default=3600.0, ge=0)
    # published outbox rows kept this long: what the bus loses in that window is published again
    outbox_retention_s: float = Field(default=3600.0, ge=0)
    bus_check_interval_s: float = Field(default=1.0, gt=0)  # groups re-declared, lost entries detected

    @field_validator("tenants", mode="before")
    @classmethod
    def _split_tenants(cls, v: Any) -> Any:
        return [t.strip() for t in v.split(",") if t.strip()] if isinstance(v, str) else v

    @field_validator("services", mode="before")
    @classmethod
    def _split_services(cls, v: Any) -> Any:
        return [s.strip() for s in v.split(",") if s.strip()] if isinstance(v, str) else v

    @field_validator("redis_sentinels", mode="before")
    @classmethod
    def _split_sentinels(cls, v: Any) -> Any:
        return [t.strip() for t in v.split(",") if t.strip()] if isinstance(v, str) else v

    @field_validator("redis_sentinels")
    @classmethod
    def _check_sentinels(cls, v: list[str]) -> list[str]:
        bad = [s for s in v if not re.match(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$", s)]
        if bad:
            raise ValueError(f"not host:port: {', '.join(bad)}")
        return v

    @model_validator(mode="after")
    def _sentinels_need_master(self) -> Settings:
        if self.redis_sentinels and not self.redis_master:
            raise ValueError("LOTSE_REDIS_SENTINELS needs LOTSE_REDIS_MASTER, the name the Sentinels monitor")
        return self

    @property
    def sentinels(self) -> tuple[tuple[str, int], ...]:
        """LOTSE_REDIS_SENTINELS as (host, port) pairs."""
        return tuple((h.strip("[]"), int(p)) for h, _, p in (s.rpartition(":") for s in self.redis_sentinels))

    @field_validator("tenants")
    @classmethod
    def _check_tenants(cls, v: list[str]) -> list[str]:
        bad = [t for t in v if not AGS.match(t)]
        if bad:
            raise ValueError(f"not an 8-digit AGS code: {', '.join(bad)}")
        if not v:
            raise ValueError("at least one tenant (AGS code) is required")
        return v

    @field_validator("services")
    @classmethod
    def _check_services(cls, v: list[str]) -> list[str]:
        bad = [s for s in v if s not in (*ALL_SERVICES, WEB)]
        if bad:
            raise ValueError(f"unknown service {', '.join(bad)}; choose from {', '.join((*ALL_SERVICES, WEB))}")
        return v

    @field_validator("redis_url", "state_redis_url")
    @classmethod
    def _check_redis(cls, v: str | None) -> str | None:
        if v and not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return v or None

    @field_validator("oidc_issuer")
    @classmethod
    def _check_issuer(cls, v: str | None) -> str | None:
        if v and not trusted_issuer(v):
            raise ValueError("must be an https:// URL (the issuer's keys are fetched from it); "
                             "plain http:// only on this machine (127.0.0.1, localhost)")
        return v or None

    @field_validator("oidc_scopes")
    @classmethod
    def _check_scopes(cls, v: str) -> str:
        if "openid" not in v.split():
            raise ValueError("must include openid (sign-in needs the ID token)")
        return " ".join(v.split())

    @field_validator("database_url")
    @classmethod
    def _check_db(cls, v: str | None) -> str | None:
        if v and not v.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return v or None

    @model_validator(mode="after")
    def _default_data_dir(self) -> Settings:
        if "data_dir" not in self.model_fields_set:
            self.data_dir = Path("var") / self.node_id
        return self

    @model_validator(mode="after")
    def _default_auto_upgrade(self) -> Settings:
        if "db_auto_upgrade" not in self.model_fields_set:
            self.db_auto_upgrade = self.database_url is None
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
        config = os.environ.get("LOTSE_CONFIG")
        if config:
            sources += (TomlConfigSettingsSource(settings_cls, toml_file=config),)
        return sources

    @property
    def ingest_apart(self) -> bool:
        """A state node running the federation and other services verifies in a child process of its own."""
        if self.level != "state" or "federation" not in self.bus_services or len(self.bus_services) < 2:
            return False
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return self.ingest_process == "on" or (self.ingest_process == "auto" and cores > 1)

    @property
    def bus_services(self) -> list[str]:
        """The services this process runs (each with its database and consumers); the web app is not one."""
        return [s for s in self.services if s != WEB]

    @property
    def keystore_database_url(self) -> str:
        """Where the per-case data keys live: never inside a service's database (its backups must not hold them)."""
        if self.keystore_url is not None:
            return self.keystore_url
        if self.database_url is None:
            return f"sqlite:///{self.data_dir / 'keys' / 'subjects.db'}"
        return self.database_url_for("keys")

    def database_url_for(self, service: str) -> str:
        """Each service owns its own database: a file per service, or a schema-less URL suffix."""
        if self.database_url is None:
            return f"sqlite:///{self.data_dir / (service + '.db')}"
        if self.database_url.startswith("sqlite"):
            return self.database_url.replace("{service}", service)
        return self.database_url.replace("{service}", service)


def trusted_issuer(url: str) -> bool:
    """https, or plain http to a loopback address (a development or test provider on this machine)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed [IPv6 address
        return False
    if not parts.hostname:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)


def setting_names() -> list[str]:
    """Every LOTSE_* variable a node reads."""
    return ["LOTSE_" + name.upper() for name in Settings.model_fields]


def unknown_variables(environ: dict[str, str] | os._Environ[str]) -> list[str]:
    """LOTSE_* variables that name no setting (typos): a node must not silently ignore them."""
    valid = {*setting_names(), *NOT_SETTINGS}
    nested = tuple(f"LOTSE_{name.upper()}__" for name, f in Settings.model_fields.items()
                   if get_origin(f.annotation) is dict)  # LOTSE_MAILBOXES__<key>
    return sorted(k for k in environ if k.upper().startswith("LOTSE_") and k.upper() not in valid
                  and not k.upper().startswith((RESERVED_PREFIX, *nested)))


def _unknown(name: str, valid: list[str], where: str = "") -> SettingsError:
    close = get_close_matches(name.upper() if name.isupper() else name, valid, n=1, cutoff=0.75)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return SettingsError(f"{name}{where}: unknown setting{hint}; valid names: {', '.join(valid)}")


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build settings from env (LOTSE_*) and an optional TOML file; raise SettingsError on a bad value."""
    unknown = unknown_variables(os.environ)
    if unknown:
        raise _unknown(unknown[0], [*setting_names(), *NOT_SETTINGS])
    if config_file is not None:
        path = Path(config_file)
        if path.is_dir():
            path = path / "lotse.toml"
        if not path.is_file():
            raise SettingsError(f"config file {config_file}: not found")
        os.environ["LOTSE_CONFIG"] = str(path)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        if err["type"] == "extra_forbidden" and err["loc"]:  # an unknown key in the config file
            key = str(err["loc"][0])
            raise _unknown(key, [n.removeprefix("LOTSE_").lower() for n in setting_names()],
                           f" in {os.environ.get('LOTSE_CONFIG')}") from None
        name = "LOTSE_" + "_".join(str(p) for p in err["loc"][:1]).upper() if err["loc"] else "settings"
        value = err.get("input")
        value = redact(value) if isinstance(value, str) else value  # never echo a password
        shown = f" (got {value!r})" if value is not None and not isinstance(value, dict) else ""
        raise SettingsError(f"{name}: {err['msg'].removeprefix('Value error, ')}{shown}") from None
    except Exception as exc:  # unreadable TOML, undecodable env value
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"LOTSE_{field.group(1).upper()}" if field else "settings"
        raise SettingsError(f"{name}: {str(exc).splitlines()[0]}") from None


def redact(url: str | None) -> str:
    """A URL fit for logs and banners: the password replaced by ***."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url or "")
