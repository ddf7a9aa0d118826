"""What the web app needs to know about its node, read once from the node's settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOOPBACK = ("127.0.0.1", "localhost", "::1")
IDLE_TIMEOUT_S = 30 * 60


@dataclass(frozen=True)
class WebConfig:
    """The node's identity, how to reach its API, and the session's rules."""

    node_id: str
    level: str
    tenants: tuple[str, ...]
    data_dir: Path
    oidc_issuer: str | None
    # None: call the node's own app in-process; split mode: the API's origin (same origin for users)
    api_url: str | None = None
    idle_timeout_s: float = IDLE_TIMEOUT_S
    # Cookies marked Secure unless the node only listens on loopback (plain http on a developer's machine)
    secure_cookies: bool = False
    # OIDC sign-in: the token the web app sends must carry the API's audience
    oidc_audience: str = "lotse"
    oidc_client_id: str = "lotse"
    oidc_client_secret: str | None = field(default=None, repr=False)
    oidc_scopes: str = "openid profile email"

    @property
    def dev_sign_in(self) -> bool:
        """The demo-user picker exists only while dev tokens are enabled (no OIDC issuer)."""
        return self.oidc_issuer is None

    @property
    def session_key_file(self) -> Path:
        return self.data_dir / "keys" / "web-session.key"

    @classmethod
    def from_settings(cls, settings: Any) -> WebConfig:
        """From the node's Settings; LOTSE_WEB_* settings are used once the node defines them."""
        host = str(getattr(settings, "http_host", "127.0.0.1"))
        secure = getattr(settings, "web_secure_cookies", None)  # None: decide by the listening address
        secret = getattr(settings, "oidc_client_secret", None)
        return cls(
            node_id=settings.node_id, level=settings.level, tenants=tuple(settings.tenants),
            data_dir=Path(settings.data_dir), oidc_issuer=settings.oidc_issuer,
            api_url=getattr(settings, "web_api_url", None),
            idle_timeout_s=float(getattr(settings, "web_idle_timeout_s", IDLE_TIMEOUT_S)),
            secure_cookies=host not in LOOPBACK if secure is None else bool(secure),
            oidc_audience=getattr(settings, "oidc_audience", "lotse"),
            oidc_client_id=getattr(settings, "oidc_client_id", "lotse"),
            oidc_client_secret=(secret.get_secret_value() or None) if secret is not None else None,
            oidc_scopes=getattr(settings, "oidc_scopes", "openid profile email"),
        )
