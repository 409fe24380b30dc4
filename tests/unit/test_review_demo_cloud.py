"""`tablehub demo --cloud-dsn` never prints the database password, even for a DSN it refuses."""

from __future__ import annotations

import pytest

from cloud_bridge.demo import database_name
from cloud_bridge.errors import ConfigError


@pytest.mark.parametrize(
    "dsn", ["mysql://cook:s3cret-pw@db.example:3306/store", "http://cook:s3cret-pw@db.example/x"]
)
def test_a_refused_dsn_is_named_without_its_password(dsn: str) -> None:
    with pytest.raises(ConfigError) as caught:
        database_name(dsn)
    assert "s3cret-pw" not in caught.value.message
    assert "db.example" in caught.value.message
