"""The prod render, once per session, for the attack tests of issue 23 (reuses the judges' fixture)."""
from tests.judges.conftest import rendered_prod  # noqa: F401  (session-scoped fixture)
