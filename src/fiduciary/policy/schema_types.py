"""The building blocks of the policy schema: the id and text types every section uses, and `StrictModel`."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    StringConstraints,
)

# The shape of every id a policy declares (purposes, categories, recipients, ...). The API checks ids it is
# sent against the same pattern, so the OpenAPI, the server and the policy file agree on one definition.
ID_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"
ID_MAX_LENGTH = 80
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
Slug = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=ID_MAX_LENGTH),
]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
LanguageTag = Annotated[str, StringConstraints(pattern=LANGUAGE_PATTERN)]


class StrictModel(BaseModel):
    """Unknown keys are errors: a misspelt key would otherwise silently drop a promise."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
