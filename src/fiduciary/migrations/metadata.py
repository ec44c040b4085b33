"""Import every domain's tables so that `Base.metadata` is complete (used by Alembic and the schema tests).

It lives in `migrations`, the one package above every domain, so `storage` itself imports no domain.
When a domain adds a models module, add its import here.
"""

from fiduciary.audit import models as _audit_models  # noqa: F401
from fiduciary.auth import models as _auth_models  # noqa: F401
from fiduciary.cases import models as _cases_models  # noqa: F401
from fiduciary.cases import vulnerability_models as _vulnerability_models  # noqa: F401
from fiduciary.cases.breach import models as _breach_models  # noqa: F401
from fiduciary.comms import models as _comms_models  # noqa: F401
from fiduciary.consent import models as _consent_models  # noqa: F401
from fiduciary.disclosures import models as _disclosures_models  # noqa: F401
from fiduciary.identity import models as _identity_models  # noqa: F401
from fiduciary.jobs import models as _jobs_models  # noqa: F401
from fiduciary.ledger import models as _ledger_models  # noqa: F401
from fiduciary.people import models as _people_models  # noqa: F401
from fiduciary.policy import models as _policy_models  # noqa: F401
from fiduciary.retention import inactivity_models as _inactivity_models  # noqa: F401
from fiduciary.retention import models as _retention_models  # noqa: F401
from fiduciary.rights import models as _rights_models  # noqa: F401
from fiduciary.rights.packages import models as _package_models  # noqa: F401
from fiduciary.storage import ratelimit as _ratelimit_models  # noqa: F401
from fiduciary.storage.base import Base
from fiduciary.vault import records as _vault_records  # noqa: F401
from fiduciary.vault import retention_events as _vault_retention_events  # noqa: F401

metadata = Base.metadata
