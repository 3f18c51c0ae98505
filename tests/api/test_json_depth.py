"""Issue 12: a JSON body nested too deep (5,000 `[`, or 200,000 levels of valid JSON) answers 400
with a JSON error on every JSON endpoint of the permission matrix, the token endpoint included,
never a 500, and changes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.api.conftest import token_client
from tests.api.permission_table import MATRIX
from tests.api.test_permission_matrix import snapshot
from tests.factories import UserFactory

BODIES = {
    "5000 open brackets": "[" * 5000,
    "200000 levels": "[" * 200_000 + "]" * 200_000,
    "33 levels of objects": '{"a": ' * 33 + "1" + "}" * 33,
}
WRITES = [
    pytest.param(name, index, id=f"{name}-{probe.method}{index}")
    for name, probes in MATRIX.items()
    for index, probe in enumerate(probes)
    if probe.method in {"POST", "PUT", "PATCH"} and probe.fmt == "json"
]


@pytest.fixture
def admin(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def test_every_json_write_endpoint_is_probed():
    names = {p.values[0] for p in WRITES}
    assert {"api-token", "api-payment-list", "api-payment-import", "api-invoice-adjust"} <= names


@pytest.mark.django_db
@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
@pytest.mark.parametrize(("name", "index"), WRITES)
def test_deep_json_is_a_400_json_error(name, index, body, admin, world):
    probe = MATRIX[name][index]
    client = token_client(None if name == "api-token" else admin)
    url = reverse(name, kwargs=probe.kwargs(world))
    before = snapshot()
    response = client.generic(probe.method, url, data=body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["detail"] == "JSON parse error - nested more than 32 levels deep"
    assert snapshot() == before


@pytest.mark.django_db
def test_json_at_the_depth_limit_is_parsed(admin, world):
    """32 levels is still JSON the endpoint reads (here: a payment body it then validates)."""
    body = '{"account_id": ' + "[" * 31 + "]" * 31 + "}"
    response = token_client(admin).post(
        reverse("api-payment-list"), data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested" not in response.json()["detail"]
    assert response.json()["errors"]["account_id"] == ["Not a valid string."]
