"""The demo users of a node, offered by the sign-in picker while dev tokens are enabled."""

from __future__ import annotations

from dataclasses import dataclass

from shared.auth import issue_dev_token
from web.config import WebConfig

# Names of the municipalities the demo and the tests use; any other tenant is shown by its AGS.
MUNICIPALITIES = {"08111000": "Stuttgart", "08221000": "Heidelberg", "08222000": "Mannheim",
                  "08212000": "Karlsruhe", "08311000": "Freiburg", "08421000": "Ulm"}
MANAGERS_PER_TENANT = 2


@dataclass(frozen=True)
class DemoUser:
    """One user of the picker: the token's subject, its one role and its tenants."""

    sub: str
    role: str
    tenants: tuple[str, ...]
    place: str  # the municipality, or the node, the user works for

    def token(self, config: WebConfig) -> str:
        """A dev token for this user, signed by the node's dev key."""
        return issue_dev_token(config.data_dir, node_id=config.node_id, node_tenants=list(config.tenants),
                               sub=self.sub, roles=[self.role], tenants=list(self.tenants))


def municipality(tenant: str) -> str:
    return MUNICIPALITIES.get(tenant, tenant)


def demo_users(config: WebConfig) -> list[DemoUser]:
    """Per municipality two managers and a lead, and the node's admin; at the state the state roles.

    The subjects match `lotse demo`'s seed (`manager-stuttgart-1`, `lead-stuttgart`).
    """
    if config.level == "state":
        return [DemoUser("funding-officer", "funding_officer", config.tenants, config.node_id),
                DemoUser("state-operator", "state_operator", config.tenants, config.node_id),
                DemoUser(f"node-admin-{config.node_id}", "node_admin", config.tenants, config.node_id)]
    users = []
    for tenant in config.tenants:
        place = municipality(tenant)
        slug = place.lower() if tenant in MUNICIPALITIES else tenant
        users += [DemoUser(f"manager-{slug}-{n}", "manager", (tenant,), place)
                  for n in range(1, MANAGERS_PER_TENANT + 1)]
        users.append(DemoUser(f"lead-{slug}", "lead", (tenant,), place))
    users.append(DemoUser(f"node-admin-{config.node_id}", "node_admin", config.tenants, config.node_id))
    return users


def find_user(config: WebConfig, sub: str) -> DemoUser | None:
    """The demo user with this subject; nobody else can be signed in by the picker."""
    return next((u for u in demo_users(config) if u.sub == sub), None)
