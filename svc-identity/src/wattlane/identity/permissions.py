"""The permission catalog and the built-in roles (what each role may do)."""

from __future__ import annotations

PERMISSIONS: dict[str, str] = {
    "tenants.read": "See tenants (partners, customers, organizations) in scope",
    "tenants.manage": "Create, update and delete tenants below a node",
    "users.read": "See users and their role assignments",
    "users.manage": "Invite, update and remove users; assign roles",
    "roles.read": "See custom roles",
    "roles.manage": "Create, update and delete custom roles",
    "audit.read": "Read the audit log",
    "service_accounts.manage": "Manage internal service accounts",
    "accounts.read": "See accounts, datapoints and applications",
    "accounts.apply": "Request new accounts, upgrades, extensions and renewals",
    "accounts.approve": "Approve or reject applications (Customer Success)",
    "licenses.read": "See feature license pools and allocations",
    "licenses.purchase": "Buy feature licenses for an organization",
    "licenses.use": "Use feature licenses to activate station features",
    "locations.read": "See locations",
    "locations.manage": "Create, update and delete locations",
    "stations.read": "See charging points, their status and logs",
    "stations.manage": "Add, configure and remove charging points",
    "stations.remote_action": "Send remote actions (reset, unlock, start, stop) to charging points",
    "cards.read": "See charge cards and whitelists",
    "cards.manage": "Add, block and remove charge cards; edit whitelists",
    "transactions.read": "See charging transactions",
    "billing.read": "See rates, invoices and payments",
    "billing.manage": "Manage rates and invoices",
    "tickets.read": "See support tickets",
    "tickets.manage": "Open and answer support tickets",
}

_READS = ["tenants.read", "users.read", "roles.read", "audit.read", "accounts.read", "licenses.read"]
_OPERATIONS = [
    "locations.read",
    "locations.manage",
    "stations.read",
    "stations.manage",
    "stations.remote_action",
    "cards.read",
    "cards.manage",
    "transactions.read",
]

# id -> (display name, description, permissions). Ids are stable: other services and the CLI
# refer to `roles/<id>`.
BUILTIN_ROLES: dict[str, tuple[str, str, list[str]]] = {
    "operator-admin": ("Operator super-admin", "Everything, everywhere", sorted(PERMISSIONS)),
    "customer-success": (
        "Customer Success",
        "Reviews and approves applications; reads everything for support",
        [
            *_READS,
            "accounts.approve",
            "locations.read",
            "stations.read",
            "cards.read",
            "transactions.read",
            "billing.read",
            "tickets.read",
            "tickets.manage",
        ],
    ),
    "partner-admin": (
        "Partner administrator",
        "Onboards and supports the partner's customers",
        [
            *_READS,
            "tenants.manage",
            "users.manage",
            "roles.manage",
            "accounts.apply",
            # The installer activates its customers' stations with their organizations' licenses
            # (it buys none), and so can give organization-member, which uses them too.
            "licenses.use",
            *_OPERATIONS,
            "billing.read",
            "tickets.read",
            "tickets.manage",
        ],
    ),
    "organization-admin": (
        "Organization administrator",
        "Manages users, all installations and buys licenses",
        [
            *_READS,
            "tenants.manage",
            "users.manage",
            "roles.manage",
            "accounts.apply",
            "licenses.purchase",
            "licenses.use",
            *_OPERATIONS,
            "billing.read",
            "tickets.read",
            "tickets.manage",
        ],
    ),
    "organization-member": (
        "Organization member",
        "Restricted access to installations; may use licenses",
        [
            "tenants.read",
            "licenses.read",
            "licenses.use",
            "locations.read",
            "stations.read",
            "stations.remote_action",
            "cards.read",
            "transactions.read",
            "tickets.manage",
        ],
    ),
    "employee": (
        "Employee",
        "A company's employee: charges with the company card, may own a home sub-organization",
        ["tenants.read", "tickets.manage"],
    ),
    "cardholder": ("Cardholder", "Charges with own cards and sees own transactions", ["tenants.read"]),
}

# Where in the tree each built-in role can be held.
BUILTIN_ROLE_KINDS: dict[str, frozenset[str]] = {
    "operator-admin": frozenset({"OPERATOR"}),
    "customer-success": frozenset({"OPERATOR"}),
    "partner-admin": frozenset({"PARTNER"}),
    "organization-admin": frozenset({"CUSTOMER", "ORGANIZATION"}),
    "organization-member": frozenset({"PARTNER", "CUSTOMER", "ORGANIZATION"}),
    "employee": frozenset({"ORGANIZATION"}),
    "cardholder": frozenset({"CUSTOMER", "ORGANIZATION"}),
}
