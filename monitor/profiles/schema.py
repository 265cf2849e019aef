"""JSON Schema of firmware profiles, generated from the pydantic models.

The committed copy is `firmware-profiles/schema.json`; a test fails when it drifts from the
models. Regenerate with `monitor profiles schema -o firmware-profiles/schema.json`.
"""

from __future__ import annotations

import json

from monitor.profiles.model import Profile


def profile_schema() -> dict:
    schema = Profile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "backstretch monitor firmware profile"
    return schema


def schema_text() -> str:
    return json.dumps(profile_schema(), indent=2, sort_keys=True) + "\n"
