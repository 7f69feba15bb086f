"""Whether Spark can run here: PySpark and a Java runtime. CI sets ``PLEDGE_REQUIRE_SPARK=1``, and
then a missing piece fails the tests instead of skipping them."""

from __future__ import annotations

import os
import shutil
from importlib.util import find_spec

import pytest


def spark_missing() -> str | None:
    if find_spec("pyspark") is None:
        return "pyspark is not installed"
    if shutil.which("java") is None:
        return "no Java runtime (java) on PATH"
    return None


def require_spark(*, module: bool = False) -> None:
    """Skip (or, where CI requires Spark, fail) when Spark cannot run here."""
    missing = spark_missing()
    if missing is None:
        return
    if os.environ.get("PLEDGE_REQUIRE_SPARK") == "1":
        pytest.fail(f"PLEDGE_REQUIRE_SPARK=1 but {missing}", pytrace=False)
    pytest.skip(f"{missing} (CI runs these)", allow_module_level=module)
