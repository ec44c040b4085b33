"""`/v1/people`: one router for everything about a person, in three modules by concept.

- `lifecycle`: create, read, age declarations and age tokens, close, restrictions and objections, guardians
  and visitor links;
- `fields`: personal fields through the purpose-bound access layer, lookup by identifier, and the access
  and erasure requests (export, erase);
- `retention`: the retention events a store's backend reports for a person;
- `contacts`: contacts and stored-value balances the backend reports (the inactivity clock, issue 15).

The package's `router` is the one people router the app includes, however its modules are cut.
"""

from fastapi import APIRouter

from fiduciary.web.contract import ContractRoute
from fiduciary.web.routes.people import contacts, fields, lifecycle, retention

router = APIRouter(route_class=ContractRoute)
# Literal paths (`/lookup`) before `/{person_id}` templates, as each module already orders its own.
router.include_router(fields.router)
router.include_router(lifecycle.router)
router.include_router(retention.router)
router.include_router(contacts.router)

__all__ = ["router"]
