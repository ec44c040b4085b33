"""Import every domain's tables so that `Base.metadata` is complete (used by Alembic and the schema tests).

When a domain adds a models module, add its import here.
"""

from fiduciary.auth import models as _auth_models  # noqa: F401
from fiduciary.policy import models as _policy_models  # noqa: F401
from fiduciary.storage.base import Base

metadata = Base.metadata
