"""SQL for the layers above. Every function takes the tenant explicitly (``*, org_id``) and runs
inside ``Database.tenant(org_id)``, so row-level security is the second lock on every query."""
