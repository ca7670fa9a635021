"""dfkit.vocabulary: the API's words stated once, and every module reading the same ones."""

from __future__ import annotations

import pandas as pd
import pytest

import dfkit
from dfkit import catalog, client, schema, vocabulary
from dfkit.testing import FakeDatafiniti


def test_every_module_reads_the_one_vocabulary() -> None:
    assert schema.STATUSES is vocabulary.STATUSES is dfkit.STATUSES
    assert schema.DATA_TYPES is vocabulary.DATA_TYPES is catalog.DATA_TYPES
    assert schema.DATA_TYPE_ENDPOINTS is vocabulary.DATA_TYPE_ENDPOINTS
    assert client.IN_FLIGHT_STATUSES is vocabulary.IN_FLIGHT_STATUSES
    assert client.CANCELLED_STATUSES is vocabulary.CANCELLED_STATUSES


def test_aliases_and_spellings_mean_known_words() -> None:
    assert set(vocabulary.STATUS_ALIASES.values()) <= set(vocabulary.STATUSES)
    assert set(vocabulary.IN_FLIGHT_STATUSES.values()) == {"queued", "in_progress"}
    assert set(vocabulary.DATA_TYPE_SPELLINGS.values()) == set(
        vocabulary.DATA_TYPE_ENDPOINTS.values()
    )


def test_the_frame_reads_every_status_alias() -> None:
    aliases = list(vocabulary.STATUS_ALIASES)
    df = dfkit.downloads_frame([{"id": str(i), "status": a} for i, a in enumerate(aliases)])
    assert df.status.tolist() == [vocabulary.STATUS_ALIASES[a] for a in aliases]


@pytest.mark.parametrize("spelling", sorted(vocabulary.DATA_TYPE_SPELLINGS))
def test_every_spelling_reaches_its_endpoint_on_the_fake(spelling: str) -> None:
    with FakeDatafiniti() as fake, client.Client(fake.token, base_url=fake.url) as c:
        download = c.start_download(spelling, "country:US", num_records=1)
        plural = vocabulary.DATA_TYPE_SPELLINGS[spelling]
        assert fake.requests[-1].path == f"/v4/{plural}/search"
        expected = {p: t for t, p in vocabulary.DATA_TYPE_ENDPOINTS.items()}[plural]
        frame = dfkit.downloads_frame([download])
        assert isinstance(frame, pd.DataFrame)
        assert frame.data_type.tolist() == [expected]
